"""A search space: a model family, the parameters it varies and the epochs cap of every trial
(`SearchSpace`, validated on construction), the default space of each family, and the base
settings a new study of a family starts from (`family_base`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mnist_core.config import DEFAULT_PRESET, LADDER, PRESETS, ConfigError, TrainConfig, field_info
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.params import PARAM_SPECS, Param, fmt_number

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    import optuna

TUNABLE_FAMILIES = ("logreg", "mlp", "cnn")


@dataclass(frozen=True)
class SearchSpace:
    """What a search varies: a model family, its parameters, and the epochs cap of every trial.

    Parameters that are off keep the base config's value. Validated on construction like
    TrainConfig: a bad space raises TuneError naming the parameter and the problem.
    """

    model: str
    params: tuple[Param, ...]
    epochs: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(self.params))
        _validate_space(self)

    @property
    def enabled(self) -> list[Param]:
        return [p for p in self.params if p.enabled]

    def with_param(self, name: str, **changes: Any) -> SearchSpace:
        """A copy with one parameter changed (added if missing), validated again."""
        if name not in PARAM_SPECS:
            raise TuneError(f"Unknown search parameter {name!r}: one of {', '.join(PARAM_SPECS)}.")
        if "choices" in changes:
            changes["choices"] = tuple(changes["choices"])
        names = [p.name for p in self.params]
        if name in names:
            params = [replace(p, **changes) if p.name == name else p for p in self.params]
        else:
            params = [*self.params, Param(name, **changes)]
        return replace(self, params=tuple(params))

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Ask the trial for a value of every enabled parameter."""
        values: dict[str, Any] = {}
        for p in self.enabled:
            kind, log = p.spec.kind, p.spec.log
            if kind == "float":
                values[p.name] = trial.suggest_float(p.name, float(p.low), float(p.high), log=log)
            elif kind == "int":
                values[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=log)
            else:
                values[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        return values

    def config_for(self, base: TrainConfig, values: dict[str, Any]) -> TrainConfig:
        """The TrainConfig of one trial: the base config, this family and epochs cap, the values."""
        try:
            return base.replace(model=self.model, epochs=self.epochs, **values)
        except (ConfigError, TypeError) as exc:
            raise TuneError(f"These trial settings do not make a valid config: {exc}") from exc

    def contains(self, config: TrainConfig) -> bool:
        """Whether `config`'s values of the enabled parameters lie inside this space."""
        for p in self.enabled:
            value = getattr(config, p.name)
            if p.spec.kind == "choice":
                if value not in p.choices:
                    return False
            elif not p.low <= value <= p.high:
                return False
        return config.model == self.model

    def describe(self) -> str:
        return f"{self.model}, {self.epochs} epochs at most: " + "; ".join(p.describe() for p in self.enabled)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "epochs": self.epochs, "params": [p.to_dict() for p in self.params]}

    @classmethod
    def from_dict(cls, values: Any) -> SearchSpace:
        """Rebuild from `to_dict()` output (e.g. JSON from a study or a file); validated."""
        try:
            params = tuple(
                Param(
                    p["name"],
                    bool(p.get("enabled", True)),
                    p.get("low"),
                    p.get("high"),
                    tuple(p.get("choices") or ()),
                )
                for p in values["params"]
            )
            return cls(values["model"], params, values.get("epochs", 20))
        except TuneError:
            raise
        except (KeyError, TypeError, AttributeError) as exc:
            raise TuneError(f"Not a search space (expected model, epochs and params): {exc!r}.") from exc


def _check_value(name: str, value: Any, where: str) -> None:
    """Reuse TrainConfig's own validation for one value of `name`."""
    try:
        TrainConfig().replace(**{name: value})
    except ConfigError as exc:
        raise TuneError(f"Search space, {name} {where}: {exc}") from exc


def _validate_space(space: SearchSpace) -> None:
    if space.model not in TUNABLE_FAMILIES:
        extra = " The majority-class baseline has nothing to tune." if space.model == "baseline" else ""
        raise TuneError(
            f"Search space: model must be one of {', '.join(TUNABLE_FAMILIES)}, got {space.model!r}.{extra}"
        )
    _check_value("epochs", space.epochs, "cap")
    seen: set[str] = set()
    for p in space.params:
        if not isinstance(p, Param) or p.name not in PARAM_SPECS:
            name = getattr(p, "name", p)
            raise TuneError(f"Unknown search parameter {name!r}: one of {', '.join(PARAM_SPECS)}.")
        if p.name in seen:
            raise TuneError(f"Search space: {p.name} is listed twice.")
        seen.add(p.name)
        _check_shape(p)
        if p.enabled:
            _validate_param(p, space.model)
    if not space.enabled:
        raise TuneError("The search space is empty: enable at least one parameter to search.")


def _is_plain_value(value: Any) -> bool:
    """A JSON scalar that compares equal to itself (NaN does not, so a space holding it
    would not survive its own round trip)."""
    if isinstance(value, (bool, str)):
        return True
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check_shape(p: Param) -> None:
    """What every parameter must hold, on or off: a range parameter its two ends (or none yet),
    a choice parameter its choices; a disabled one is saved and shown too."""
    if p.spec.kind == "choice":
        if p.low is not None or p.high is not None:
            raise TuneError(f"Search space: {p.name} takes a list of choices, not a minimum and maximum.")
        if not all(_is_plain_value(c) for c in p.choices):
            raise TuneError(
                f"Search space: {p.name}'s choices must be numbers, true/false or names, got {list(p.choices)!r}."
            )
        return
    if p.choices:
        raise TuneError(f"Search space: {p.name} takes a minimum and a maximum, not a list of choices.")
    for end, value in (("minimum", p.low), ("maximum", p.high)):
        if value is not None and (isinstance(value, (bool, str)) or not _is_plain_value(value)):
            raise TuneError(f"Search space: {p.name} needs a finite numeric {end}, got {value!r}.")


def _validate_param(p: Param, model: str) -> None:
    spec = p.spec
    if model not in spec.families:
        raise TuneError(
            f"Search space: {p.name} does not apply to the {model} model "
            f"(only to {', '.join(spec.families)}); turn it off."
        )
    if spec.kind == "choice":
        if not p.choices:
            raise TuneError(f"Search space: {p.name} is on but has no choices; give at least one.")
        if len(set(p.choices)) != len(p.choices):
            raise TuneError(f"Search space: {p.name} lists a choice twice: {list(p.choices)}.")
        for choice in p.choices:
            _check_value(p.name, choice, "choice")
        return
    for end, value in (("minimum", p.low), ("maximum", p.high)):
        if (
            value is None
            or isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise TuneError(f"Search space: {p.name} needs a finite numeric {end}, got {value!r}.")
        if spec.kind == "int" and value != int(value):
            raise TuneError(f"Search space: {p.name} takes whole numbers, got {end} {value!r}.")
        _check_value(p.name, int(value) if spec.kind == "int" else float(value), end)
    if p.low > p.high:
        raise TuneError(
            f"Search space: {p.name}'s minimum {fmt_number(p.low)} is above its maximum {fmt_number(p.high)}."
        )
    if spec.log and p.low <= 0:
        raise TuneError(
            f"Search space: {p.name} is sampled log-uniformly, so its minimum must be "
            f"above 0 (got {fmt_number(p.low)}); e.g. {spec.slider[0]:g}."
        )


# per family: the (low, high) range of each ranged parameter in its default space
_DEFAULT_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "cnn": {"lr": (1e-3, 2e-2), "dropout": (0.0, 0.5), "weight_decay": (1e-6, 1e-2), "cnn_channels": (8, 48)},
    "mlp": {"lr": (3e-4, 1e-2), "dropout": (0.0, 0.6), "weight_decay": (1e-6, 1e-1), "mlp_width": (64, 1024)},
    "logreg": {"lr": (1e-3, 1e-1), "weight_decay": (1e-6, 1e-2)},
}
_SEARCHED_BY_DEFAULT = ("lr", "dropout", "weight_decay")  # the other parameters start off
_DEFAULT_EPOCHS = {"logreg": 10}  # the epochs cap of a trial; 20 for the other families
# off in every family's default space: they keep the base config's value
_DEFAULT_CHOICES = (
    Param("batch_size", False, choices=(64, 128, 256, 512)),
    Param("augment", False, choices=(False, True)),
)


def default_space(model: str = "cnn") -> SearchSpace:
    """A sensible space per family: learning rate, dropout and weight decay on; the rest off."""
    if model in _DEFAULT_RANGES:
        params = tuple(
            Param(name, name in _SEARCHED_BY_DEFAULT, low, high)
            for name, (low, high) in _DEFAULT_RANGES[model].items()
        )
        return SearchSpace(model, params + _DEFAULT_CHOICES, epochs=_DEFAULT_EPOCHS.get(model, 20))
    return SearchSpace(model, ())  # raises the family error


def family_base(model: str) -> TrainConfig:
    """Base settings for a family: its rung of the baseline ladder (the default preset for a CNN)."""
    if model == PRESETS[DEFAULT_PRESET].model:
        return PRESETS[DEFAULT_PRESET]
    for _, config in LADDER:
        if config.model == model:
            return config
    return PRESETS[DEFAULT_PRESET].replace(model=model)


def range_grid(name: str) -> list[float | int]:
    """The stops of a log-uniform parameter's range slider: 1-2-5 steps (the config's own grid
    for whole numbers) inside the parameter's slider range, plus every family's default ends."""
    spec = PARAM_SPECS[name]
    lo, hi = spec.slider
    if spec.kind == "int":
        values = {v for v in field_info(name)["grid"] if lo <= v <= hi}
    else:
        values = {float(f"{m}e{e}") for e in range(-9, 2) for m in (1, 2, 5)}
        values = {v for v in values if lo <= v <= hi}
    for family in TUNABLE_FAMILIES:
        values |= {end for p in default_space(family).params if p.name == name for end in (p.low, p.high)}
    return sorted(values)
