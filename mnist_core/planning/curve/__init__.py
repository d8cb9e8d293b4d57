"""How many labels do we need? Measure a learning curve, fit it, and read the answer off it.

One idea per module, each usable on its own by the Plan page, the CLI, the report and tests:

- `schedule`: which configurations can be measured, the sizes and seeds, how long each point trains.
- `sampling`: which images get labelled at each size (the seam a labelling strategy replaces).
- `chain`: one seed's trainings, size after size (a chain runs on its own, e.g. as a cluster task).
- `measure`: the trainings at each size as a stream of records, stoppable; fits and saves at the end.
- `fit`: the inverse power law error(n) = a·n^(−b) + c, its bootstrap band, the size for an error.
- `honesty`: a fit on the smaller sizes predicting the largest one.
- `advice`: the answer in numbers and words, and a bigger model when the target is out of reach.
- `store`: saved curves, one JSON file each under `<studio home>/curves/`, written atomically.

Everything user-facing fails with a `CurveError` (a ValueError) whose message says what to
change. The names below are the package's face for readers of a saved curve (the report).
"""

from mnist_core.planning.curve.advice import estimate_sentence, target_estimate
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import Fit
from mnist_core.planning.curve.store import Curve, list_curves

__all__ = ["Curve", "CurveError", "Fit", "estimate_sentence", "list_curves", "target_estimate"]
