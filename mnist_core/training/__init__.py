"""Training: models, the training loop as a record stream, train-and-save, background jobs, diagnosis."""
