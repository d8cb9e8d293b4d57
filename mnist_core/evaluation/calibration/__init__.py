"""Can we trust its confidence? Reliability, expected calibration error, temperature scaling and
the "not sure" threshold, fitted on a run's validation set and saved with the run.

- `scaling`: logits and probabilities, reliability bins, ECE, NLL, the temperature fit
  (`calibrate`) and the figures for a temperature already chosen (`calibration_figures`);
- `coverage`: the share answered and its accuracy per "not sure" threshold (`coverage_curve`,
  `choose_threshold`);
- `saved`: the temperature and threshold kept in a run's meta.json, read back as the options
  Deploy and the CLI's predict apply (`predict_options`).

The command line is `mnist_core.cli.calibrate`. Everything public is importable from here.
"""

from mnist_core.evaluation.calibration.coverage import (
    DEFAULT_TARGET_ACCURACY,
    choose_threshold,
    coverage_curve,
    default_thresholds,
)
from mnist_core.evaluation.calibration.saved import (
    calibrate_run,
    clear_threshold,
    predict_options,
    run_temperature,
    run_threshold,
    save_calibration,
    save_threshold,
    threshold_is_stale,
    validation_logits,
)
from mnist_core.evaluation.calibration.scaling import (
    BATCH,
    N_BINS,
    T_MAX,
    T_MIN,
    CalibrationError,
    CalibrationReport,
    apply_temperature,
    calibrate,
    calibration_figures,
    ece_from_bins,
    expected_calibration_error,
    fit_temperature,
    logits,
    nll,
    reliability_bins,
    softmax,
)

__all__ = [
    "BATCH",
    "DEFAULT_TARGET_ACCURACY",
    "N_BINS",
    "T_MAX",
    "T_MIN",
    "CalibrationError",
    "CalibrationReport",
    "apply_temperature",
    "calibrate",
    "calibrate_run",
    "calibration_figures",
    "choose_threshold",
    "clear_threshold",
    "coverage_curve",
    "default_thresholds",
    "ece_from_bins",
    "expected_calibration_error",
    "fit_temperature",
    "logits",
    "nll",
    "predict_options",
    "reliability_bins",
    "run_temperature",
    "run_threshold",
    "save_calibration",
    "save_threshold",
    "softmax",
    "threshold_is_stale",
    "validation_logits",
]
