"""Evaluation: held-out results and judgements, calibration, robustness, attributions and embeddings."""
