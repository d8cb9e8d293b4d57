"""Where does it break? Accuracy on validation images as a perturbation grows.

Each curve perturbs the validation images step by step (rotation, scale, shift, stroke
thickness, noise, blur, inverted colours) and measures accuracy, mostly through the app's own
preprocessing of a drawing. The package's parts:

- `perturbations`: the eight perturbations, their strengths and torch code (`perturb`);
- `measure`: measuring the curves (`sweep_records` streams them, `sweep` / `sweep_run` run to the end;
  `sweep_input` loads a saved run's model and images as plain data for another process);
- `results`: what a sweep holds (`Sweep`, `Curve`) and how it reads (`weakest`, `compare`);
- `store`: the sweep kept in a run's folder (`save_sweep`, `load_sweep`).

The command line is `mnist_core.cli.robustness`. Everything public is importable from here.
"""

from mnist_core.evaluation.robustness.measure import (
    DEFAULT_N,
    SweepInput,
    SweepStep,
    sweep,
    sweep_input,
    sweep_input_records,
    sweep_records,
    sweep_run,
    sweep_run_records,
)
from mnist_core.evaluation.robustness.perturbations import (
    CANVAS,
    ORDER,
    PERTURBATIONS,
    SEED,
    Perturbation,
    RobustnessError,
    blur,
    noise,
    perturb,
    rotate,
    scale,
    shift,
    thickness,
)
from mnist_core.evaluation.robustness.results import (
    Curve,
    Sweep,
    compare,
    default_bar,
    describe,
    pct,
    weakest,
)
from mnist_core.evaluation.robustness.store import RESULT_FILE, load_sweep, save_sweep

__all__ = [
    "CANVAS",
    "DEFAULT_N",
    "ORDER",
    "PERTURBATIONS",
    "RESULT_FILE",
    "SEED",
    "Curve",
    "Perturbation",
    "RobustnessError",
    "Sweep",
    "SweepInput",
    "SweepStep",
    "blur",
    "compare",
    "default_bar",
    "describe",
    "load_sweep",
    "noise",
    "pct",
    "perturb",
    "rotate",
    "save_sweep",
    "scale",
    "shift",
    "sweep",
    "sweep_input",
    "sweep_input_records",
    "sweep_records",
    "sweep_run",
    "sweep_run_records",
    "thickness",
    "weakest",
]
