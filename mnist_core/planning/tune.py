"""Hyperparameter search with Optuna: the search space as data, the objective on the trainer,
study helpers, and a worker loop that yields small dict records.

    space = default_space("cnn").with_param("batch_size", enabled=True)
    for record in run_search("cnn-1", None, base, space, n_trials=20, data="sample", stop=event):
        ...   # trial_start, epoch..., trial_end, ..., then one search_end (all plain dicts)

A study lives in an Optuna storage: by default a SQLite file in the studio home
(`studies.db`), or any SQLAlchemy URL Optuna accepts (e.g. `postgresql://user@host/db`).
Every worker that opens the same study in the same storage — the app's background job, or
`python -m mnist_core tune` on this or another machine — shares its trials. The search space,
the base config, the objective and the data source are stored with the study, so a resumed
study and every worker search the same space on the same validation split.

A worker marks its running trial alive every few seconds (Optuna's heartbeat); a worker that
dies (kill -9, a lost machine) leaves a trial that the next worker to start a trial marks failed.
Optuna is imported lazily: `python -m mnist_core` builds this module's parser for every command.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sqlite3
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_core.config import (
    DEFAULT_PRESET,
    LADDER,
    PRESETS,
    ConfigError,
    TrainConfig,
    field_info,
    studio_home,
)

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    import optuna
    from optuna.storages import RDBStorage

    from mnist_core.data.preprocess import DataSplit
    from mnist_core.training.pipeline import PipelineRecord


class TuneError(ValueError):
    """A search that cannot run as asked (bad space, storage, study); the message says why."""


OBJECTIVES = {"val_acc": "maximize", "val_loss": "minimize"}
OBJECTIVE_LABELS = {"val_acc": "validation accuracy", "val_loss": "validation loss"}
PRUNERS = ("median", "halving", "none")
TUNABLE_FAMILIES = ("logreg", "mlp", "cnn")
STUDIES_FILE = "studies.db"
STORAGE_ENV = "MNIST_STUDIO_STORAGE"  # where the app and workers find studies when no URL is given
HEARTBEAT_S = 10  # a trial silent for GRACE_FACTOR x this long is marked failed
GRACE_FACTOR = 3
MIN_TRIALS_FOR_IMPORTANCE = 10
SETTINGS_ATTR = "mnist_studio"  # the study user attr holding space, base config, objective, data
STATES = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
    "RUNNING": "running",
    "WAITING": "waiting",
}


# ====================================================================== search space


@dataclass(frozen=True)
class ParamSpec:
    """What one searchable hyperparameter is: how it is sampled and where it applies."""

    name: str
    kind: str  # "float" | "int" (a low..high range) or "choice" (a list of values)
    log: bool  # sampled log-uniformly (learning rate, weight decay, widths)
    help: str
    families: tuple[str, ...]
    slider: tuple[float, float] | None = None  # a practical widget range inside TrainConfig's
    options: tuple[Any, ...] = ()  # values a widget can offer for a "choice"


_TRAINED = ("logreg", "mlp", "cnn")
PARAM_SPECS: dict[str, ParamSpec] = {
    s.name: s
    for s in (
        ParamSpec(
            "lr",
            "float",
            True,
            "Peak learning rate of the one-cycle schedule, sampled "
            "log-uniformly: 0.001 to 0.01 is as likely as 0.01 to 0.1.",
            _TRAINED,
            (1e-5, 1.0),
        ),
        ParamSpec(
            "dropout",
            "float",
            False,
            "Dropout probability (the CNN also drops a third as many "
            "whole feature maps): more fights overfitting, too much underfits.",
            ("mlp", "cnn"),
            (0.0, 0.9),
        ),
        ParamSpec(
            "weight_decay",
            "float",
            True,
            "L2 penalty on the weights, sampled log-uniformly "
            "(so it cannot be exactly 0: a tiny value is as good as none).",
            _TRAINED,
            (1e-7, 1.0),
        ),
        ParamSpec(
            "cnn_channels",
            "int",
            True,
            "CNN: channels of the first block (later blocks double them): wider is more capable and slower.",
            ("cnn",),
            (4, 128),
        ),
        ParamSpec(
            "mlp_width",
            "int",
            True,
            "MLP: units per hidden layer: wider is more capable and slower.",
            ("mlp",),
            (8, 4096),
        ),
        ParamSpec(
            "batch_size",
            "choice",
            False,
            "Images per gradient step: smaller steps are noisier (a mild regularizer) and slower per epoch.",
            _TRAINED,
            options=(16, 32, 64, 128, 256, 512, 1024, 2048),
        ),
        ParamSpec(
            "augment",
            "choice",
            False,
            "Data augmentation on or off (small random shifts, "
            "rotations and scaling of the training images).",
            _TRAINED,
            options=(False, True),
        ),
    )
}
EPOCHS_HELP = (
    "Epochs per trial at most: every trial trains this long unless the pruner stops "
    "it early (the one-cycle schedule is planned for this many)."
)


@dataclass(frozen=True)
class Param:
    """One parameter of a search: on or off, and its range (low..high) or its choices."""

    name: str
    enabled: bool = True
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def spec(self) -> ParamSpec:
        return PARAM_SPECS[self.name]

    def to_dict(self) -> dict[str, Any]:
        if self.spec.kind == "choice":
            return {"name": self.name, "enabled": self.enabled, "choices": list(self.choices)}
        return {"name": self.name, "enabled": self.enabled, "low": self.low, "high": self.high}

    def describe(self) -> str:
        if self.spec.kind == "choice":
            return f"{self.name} in {{{', '.join(str(c) for c in self.choices)}}}"
        return f"{self.name} {_num(self.low)}..{_num(self.high)}" + (" (log)" if self.spec.log else "")


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

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

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


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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
        if p.enabled:
            _validate_param(p, space.model)
    if not space.enabled:
        raise TuneError("The search space is empty: enable at least one parameter to search.")


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
            f"Search space: {p.name}'s minimum {_num(p.low)} is above its maximum {_num(p.high)}."
        )
    if spec.log and p.low <= 0:
        raise TuneError(
            f"Search space: {p.name} is sampled log-uniformly, so its minimum must be "
            f"above 0 (got {_num(p.low)}); e.g. {spec.slider[0]:g}."
        )


def param_info(name: str) -> dict[str, Any]:
    """Help, sampling and ranges of one search parameter (for building widgets)."""
    spec = PARAM_SPECS[name]
    info = field_info(name)
    return {
        "name": name,
        "kind": spec.kind,
        "log": spec.log,
        "help": spec.help,
        "families": list(spec.families),
        "min": info["min"],
        "max": info["max"],
        "slider": list(spec.slider) if spec.slider else None,
        "options": list(spec.options),
        "default": info["default"],
    }


def epochs_info() -> dict[str, Any]:
    info = field_info("epochs")
    return {"name": "epochs", "help": EPOCHS_HELP, "min": info["min"], "max": info["max"]}


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


# ====================================================================== storage


def default_storage_url(home: Path | None = None) -> str:
    """$MNIST_STUDIO_STORAGE (e.g. a shared PostgreSQL database) when set and no `home` is
    given, else the embedded study store: a SQLite file in the studio home."""
    shared = os.environ.get(STORAGE_ENV, "").strip()
    if shared and home is None:
        return normalize_url(shared)
    return "sqlite:///" + str((Path(home or studio_home()) / STUDIES_FILE).expanduser().resolve())


def normalize_url(storage: str | None, home: Path | None = None) -> str:
    """None → the embedded store; a plain path → a SQLite file; else a checked SQLAlchemy URL."""
    if storage is None or not str(storage).strip():
        return default_storage_url(home)
    text = str(storage).strip()
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = sqlalchemy.engine.make_url(text)
        url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        scheme = text.split("://", 1)[0]
        raise TuneError(
            f"Unknown study storage {scheme!r}: give a SQLAlchemy URL such as "
            "sqlite:///PATH/studies.db or postgresql://USER@HOST/DATABASE "
            "(or a plain path for a SQLite file)."
        ) from None
    return text


def storage_label(storage: str | None) -> str:
    """The storage URL with any password hidden, for messages and tables."""
    url = normalize_url(storage)
    import sqlalchemy

    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # a label must never fail
        return url.split("@")[-1]


_STORAGES: dict[tuple[str, int], RDBStorage] = {}
_STORAGES_LOCK = threading.Lock()


def open_storage(storage: str | None = None, heartbeat: int = HEARTBEAT_S) -> RDBStorage:
    """Optuna's RDB storage for `storage` (cached per process: opening checks the schema)."""
    url = normalize_url(storage)
    key = (url, int(heartbeat))
    with _STORAGES_LOCK:
        if key not in _STORAGES:
            _STORAGES[key] = _connect(url, int(heartbeat))
        return _STORAGES[key]


def _connect(url: str, heartbeat: int) -> RDBStorage:
    import optuna
    import sqlalchemy

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # Optuna logs to stderr; keep it quiet
    if heartbeat < 1:
        raise TuneError(f"The heartbeat must be at least 1 second, got {heartbeat}.")
    backend = sqlalchemy.engine.make_url(url).get_backend_name()
    engine: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "sqlite":
        _prepare_sqlite(url)
        engine["connect_args"] = {"timeout": 60}  # wait for another worker's write, never fail
    elif backend == "postgresql":
        engine["connect_args"] = {"connect_timeout": 10}
    for attempt in range(4):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeat
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=heartbeat,
                    grace_period=GRACE_FACTOR * heartbeat,
                )
        except ImportError as exc:
            raise TuneError(f"The database driver for {backend} is not installed ({exc}).") from exc
        except Exception as exc:  # SQLAlchemy's OperationalError and friends: unreachable, refused
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            if attempt < 3 and _schema_race(exc):
                time.sleep(0.2 + attempt * 0.5)  # the other worker finishes creating the tables
                continue
            raise TuneError(f"Cannot open the study storage {storage_label(url)}: {reason}") from exc
    raise AssertionError("unreachable")


def _schema_race(exc: Exception) -> bool:
    """Two workers creating the tables of a new database at once: one of them loses."""
    import sqlalchemy

    text = str(exc).lower()
    return isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in text or "duplicate" in text


def _prepare_sqlite(url: str) -> None:
    """Create the folder, and put a new database in WAL mode (readers never block the writer)."""
    import sqlalchemy

    database = sqlalchemy.engine.make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            with sqlite3.connect(path, timeout=60) as con:
                con.execute("PRAGMA journal_mode=WAL")
    except (OSError, sqlite3.Error) as exc:
        raise TuneError(f"Cannot create the study database {path}: {exc}") from exc


# ====================================================================== studies


@dataclass(frozen=True)
class StudySettings:
    """What every worker of a study must agree on; stored as the study's user attr."""

    space: SearchSpace
    base_config: TrainConfig
    objective: str
    data: str  # the resolved data source key ("sample", "mnist" or a folder)

    @property
    def direction(self) -> str:
        return OBJECTIVES[self.objective]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "space": self.space.to_dict(),
            "base_config": self.base_config.to_dict(),
            "objective": self.objective,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StudySettings:
        try:
            return cls(
                SearchSpace.from_dict(values["space"]),
                TrainConfig.from_dict(values["base_config"]),
                _objective(values["objective"]),
                str(values["data"]),
            )
        except (KeyError, TypeError, ConfigError) as exc:
            raise TuneError(f"The study's stored settings are damaged: {exc}") from exc


def _objective(name: str) -> str:
    if name not in OBJECTIVES:
        raise TuneError(
            f"Unknown objective {name!r}: use val_acc (maximize validation accuracy) "
            "or val_loss (minimize validation loss)."
        )
    return name


def study_settings(study: optuna.Study) -> StudySettings | None:
    """The settings a study was created with (None for a study made outside this app)."""
    stored = study.user_attrs.get(SETTINGS_ATTR)
    return StudySettings.from_dict(stored) if isinstance(stored, dict) else None


def load_study(
    name: str,
    storage: str | None = None,
    *,
    heartbeat: int = HEARTBEAT_S,
    sampler: Any = None,
    pruner: Any = None,
) -> optuna.Study:
    """An existing study; TuneError (listing what there is) when there is none by that name."""
    import optuna

    store = open_storage(storage, heartbeat)
    try:
        return optuna.load_study(study_name=name, storage=store, sampler=sampler, pruner=pruner)
    except KeyError:
        names = optuna.get_all_study_names(store)
        raise TuneError(
            f"No study named {name!r} in {storage_label(storage)}"
            + (f" (there is: {', '.join(names)})." if names else " (it holds no studies).")
        ) from None


def open_study(
    name: str,
    storage: str | None = None,
    *,
    space: SearchSpace | None = None,
    base_config: TrainConfig | None = None,
    objective: str | None = None,
    data: str | None = None,
    heartbeat: int = HEARTBEAT_S,
    sampler: Any = None,
    pruner: Any = None,
    enqueue_base: bool = True,
) -> tuple[optuna.Study, StudySettings, list[str]]:
    """Create the study, or join it: (study, its settings, notes for the user).

    Arguments left as None take the stored value (or a default for a new study). Given ones
    must match what the study was created with: a study searches one space, towards one goal.
    A new study first tries the base config itself (when it lies in the space), so the search
    starts from a known point.
    """
    study, settings, notes, _ = _open_study(
        name, storage, space, base_config, objective, data, heartbeat, sampler, pruner, enqueue_base
    )
    return study, settings, notes


def _open_study(
    name: str,
    storage: str | None,
    space: SearchSpace | None,
    base_config: TrainConfig | None,
    objective: str | None,
    data: str | None,
    heartbeat: int,
    sampler: Any,
    pruner: Any,
    enqueue_base: bool,
) -> tuple[optuna.Study, StudySettings, list[str], bool]:
    import optuna

    from mnist_core.data.sources import resolve_source

    name = (name or "").strip()
    if not name:
        raise TuneError("Give the study a name.")
    if objective is not None:
        _objective(objective)
    store = open_storage(storage, heartbeat)
    given_data = resolve_source(data).key if data is not None else None
    try:
        study = optuna.create_study(
            study_name=name,
            storage=store,
            sampler=sampler,
            pruner=pruner,
            direction=OBJECTIVES[objective or "val_acc"],
        )
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(study_name=name, storage=store, sampler=sampler, pruner=pruner)
        created = False
    stored = study_settings(study)
    if stored is None:  # new, or made outside this app (then its direction decides the objective)
        if not created and objective is None:
            objective = "val_acc" if study.direction.name == "MAXIMIZE" else "val_loss"
        base = base_config or _default_base(space)
        settings = StudySettings(
            space or default_space(base.model),
            base,
            objective or "val_acc",
            given_data or resolve_source("auto").key,
        )
        _check_direction(study, settings.objective, name)
        study.set_user_attr(SETTINGS_ATTR, settings.to_dict())
        stored = study_settings(study)  # a worker joining at the same moment may have written too
        if enqueue_base and created and stored == settings and space_has_base(settings):
            study.enqueue_trial(
                _base_values(settings), user_attrs={"enqueued": "base config"}, skip_if_exists=True
            )
    notes = _check_join(study, stored, name, space, base_config, objective, given_data)
    return study, stored, notes, created


def family_base(model: str) -> TrainConfig:
    """Base settings for a family: its rung of the baseline ladder (the default preset for a CNN)."""
    if model == PRESETS[DEFAULT_PRESET].model:
        return PRESETS[DEFAULT_PRESET]
    for _, config in LADDER:
        if config.model == model:
            return config
    return PRESETS[DEFAULT_PRESET].replace(model=model)


def _default_base(space: SearchSpace | None) -> TrainConfig:
    return family_base(space.model) if space is not None else PRESETS[DEFAULT_PRESET]


def _base_values(settings: StudySettings) -> dict[str, Any]:
    return {p.name: getattr(settings.base_config, p.name) for p in settings.space.enabled}


def space_has_base(settings: StudySettings) -> bool:
    config = settings.space.config_for(settings.base_config, {})
    return settings.space.contains(config)


def _check_direction(study: optuna.Study, objective: str, name: str) -> None:
    want = OBJECTIVES[objective]
    have = study.direction.name.lower()
    if have != want:
        raise TuneError(
            f"Study {name!r} already exists and {have}s its objective, but "
            f"{objective} ({OBJECTIVE_LABELS[objective]}) must be {want}d: pick "
            "another study name or the study's own objective."
        )


def _check_join(
    study: optuna.Study,
    stored: StudySettings,
    name: str,
    space: SearchSpace | None,
    base: TrainConfig | None,
    objective: str | None,
    data: str | None,
) -> list[str]:
    _check_direction(study, objective or stored.objective, name)
    if objective is not None and objective != stored.objective:
        raise TuneError(f"Study {name!r} optimizes {stored.objective}, not {objective}.")
    if space is not None and _jsonable(space.to_dict()) != _jsonable(stored.space.to_dict()):
        raise TuneError(
            f"Study {name!r} searches another space ({stored.space.describe()}); "
            "leave the space out to join it, or start a new study."
        )
    if base is not None and _jsonable(base.to_dict()) != _jsonable(stored.base_config.to_dict()):
        raise TuneError(
            f"Study {name!r} was created with other base settings "
            f"({stored.base_config.summary()}); leave them out to join it, or start "
            "a new study."
        )
    notes = []
    if data is not None and data != stored.data:
        notes.append(
            f"Note: this worker trains on {data}, but study {name!r} was created on "
            f"{stored.data}; their validation scores are not comparable."
        )
    return notes


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


def delete_study(name: str, storage: str | None = None) -> None:
    import optuna

    store = open_storage(storage)
    try:
        optuna.delete_study(study_name=name, storage=store)
    except KeyError:
        raise TuneError(f"No study named {name!r} in {storage_label(storage)}.") from None


def list_studies(storage: str | None = None) -> list[dict[str, Any]]:
    """One summary per study in the storage (newest first)."""
    import optuna

    store = open_storage(storage)
    studies = [optuna.load_study(study_name=s.study_name, storage=store) for s in store.get_all_studies()]
    rows = [study_summary(s) for s in studies]
    return sorted(rows, key=lambda r: r["started"] or "", reverse=True)


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no complete trial yet
        return None


def study_summary(study: optuna.Study) -> dict[str, Any]:
    """Name, objective, model, trial counts by state, best value/params/trial, dates."""
    trials = study.get_trials(deepcopy=False)
    counts = {state: 0 for state in STATES.values()}
    for t in trials:
        counts[STATES[t.state.name]] += 1
    best = _best(study)
    settings = study_settings(study)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    return {
        "name": study.study_name,
        "objective": settings.objective if settings else None,
        "direction": study.direction.name.lower(),
        "model": settings.space.model if settings else None,
        "space": settings.space.describe() if settings else None,
        "data": settings.data if settings else None,
        "n_trials": len(trials),
        "n_complete": counts["complete"],
        "n_pruned": counts["pruned"],
        "n_failed": counts["failed"],
        "n_running": counts["running"],
        "best_value": _finite(best.value) if best else None,
        "best_params": dict(best.params) if best else None,
        "best_trial": best.number if best else None,
        "started": min(starts).isoformat(timespec="seconds") if starts else None,
        "last": max(ends).isoformat(timespec="seconds") if ends else None,
    }


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def trials_table(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial: state, parameters, value, best validation accuracy, epochs run, duration
    (so far, for a running trial), the objective after every epoch, and which worker ran it."""
    best = _best(study)
    now = time.time()
    rows = []
    for t in study.get_trials(deepcopy=False):
        attrs = t.user_attrs
        accs = [a for a in attrs.get("val_acc", []) if _finite(a) is not None]
        start, end = t.datetime_start, t.datetime_complete
        seconds = (
            (end - start).total_seconds() if start and end else (now - start.timestamp() if start else None)
        )
        curve = [
            {"epoch": int(step), "value": _finite(v)} for step, v in sorted(t.intermediate_values.items())
        ]
        rows.append(
            {
                "number": t.number,
                "state": STATES[t.state.name],
                "status": attrs.get("status", STATES[t.state.name]),
                "value": _finite(t.value),
                "params": dict(t.params),
                "best_val_acc": _finite(attrs.get("best_val_acc"))
                if "best_val_acc" in attrs
                else (max(accs) if accs else None),
                "epochs": attrs.get("epochs_run", len(curve)),
                "seconds": round(seconds, 2) if seconds is not None else None,
                "curve": curve,
                "worker": attrs.get("worker"),
                "enqueued": attrs.get("enqueued"),
                "started": start.isoformat(timespec="seconds") if start else None,
                "is_best": best is not None and t.number == best.number,
            }
        )
    return rows


def best_config(study: optuna.Study) -> TrainConfig:
    """The TrainConfig of the best complete trial (base settings + its values + the epochs cap)."""
    best = _best(study)
    if best is None:
        raise TuneError(f"Study {study.study_name!r} has no complete trial yet.")
    settings = study_settings(study)
    if settings is None:
        raise TuneError(f"Study {study.study_name!r} was not created by this app: it has no base settings.")
    return settings.space.config_for(settings.base_config, dict(best.params))


def importances(study: optuna.Study) -> dict[str, float] | None:
    """Share of the objective's variation due to each parameter (optuna.importance), once
    MIN_TRIALS_FOR_IMPORTANCE trials are complete; None before that or when it is undefined."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return None
    try:
        result = optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError, ZeroDivisionError):  # e.g. every trial had the same values
        return None
    clean = {k: _finite(v) for k, v in result.items()}
    return {k: v for k, v in clean.items() if v is not None} or None


def train_best(
    study: optuna.Study,
    *,
    stop: threading.Event | None = None,
    home: Path | None = None,
    name: str | None = None,
    data: str | None = None,
) -> Iterator[PipelineRecord]:
    """Retrain the best trial's config on the study's data and save it as a normal run (meta
    "study" and "trial"); yields the pipeline's records, ending with its SavedRecord."""
    from mnist_core.runs.storage import load_run, update_meta
    from mnist_core.training.pipeline import SavedRecord, train_and_save

    config = best_config(study)
    best = _best(study)
    settings = study_settings(study)
    label = name or f"{study.study_name} trial {best.number}"
    for record in train_and_save(
        config, data or settings.data, stop=stop, name=label, home=home, report_every=50
    ):
        if isinstance(record, SavedRecord):
            update_meta(
                load_run(record.path),
                study=study.study_name,
                trial=best.number,
                study_value=_finite(best.value),
                objective=settings.objective,
            )
        yield record


# ====================================================================== the worker loop


def make_pruner(kind: str, epochs: int) -> optuna.pruners.BasePruner:
    """Median pruning after a few complete trials and a warm-up quarter of the epochs (early
    one-cycle epochs say little), successive halving, or none."""
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, epochs // 8), reduction_factor=3)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise TuneError(f"Unknown pruner {kind!r}: one of {', '.join(PRUNERS)}.")


def make_sampler(seed: int | None = None) -> optuna.samplers.BaseSampler:
    """TPE after 5 random trials; constant liar keeps parallel workers from sampling alike."""
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, constant_liar=True)


class _Heartbeat:
    """Marks one running trial alive every `interval` s from a thread, as Study.optimize does."""

    def __init__(self, storage: RDBStorage, trial_id: int, interval: int) -> None:
        self._storage, self._trial_id, self._interval = storage, trial_id, interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{trial_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._storage.record_heartbeat(self._trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(self._interval):
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception:  # a missed beat is retried; only silence for the grace period counts
                pass


@dataclass
class _Outcome:
    state: str  # optuna TrialState name
    status: str  # finished / early_stopped / pruned / diverged / stopped
    value: float | None
    epochs: int
    seconds: float
    best_val_acc: float | None


@dataclass
class _Budget:
    n_trials: int | None
    timeout: float | None
    started: float = field(default_factory=time.monotonic)
    done: int = 0

    def exhausted(self) -> bool:
        return (self.n_trials is not None and self.done >= self.n_trials) or (
            self.timeout is not None and time.monotonic() - self.started >= self.timeout
        )

    def progress(self, within: float = 0.0) -> float:
        parts = []
        if self.n_trials:
            parts.append((self.done + min(within, 0.99)) / self.n_trials)
        if self.timeout:
            parts.append((time.monotonic() - self.started) / self.timeout)
        return round(min(max(parts or [0.0]), 1.0), 4)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_search(
    study_name: str,
    storage_url: str | None = None,
    base_config: TrainConfig | None = None,
    space: SearchSpace | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    data: str | DataSplit | None = None,
    objective: str | None = None,
    stop: threading.Event | None = None,
    *,
    pruner: str | optuna.pruners.BasePruner = "median",
    seed: int | None = None,
    heartbeat: int = HEARTBEAT_S,
    enqueue_base: bool = True,
) -> Iterator[dict[str, Any]]:
    """Run trials of a study (creating or joining it) until `n_trials` trials have run here,
    `timeout` seconds have passed (no new trial starts after it), or `stop` is set (the running
    trial stops within a batch and is marked failed).

    Yields plain dicts, each with "kind", "progress" (0..1 of this call's budget) and "text":
      {"kind": "note", text}                       (once, when joining with other data)
      {"kind": "trial_start", number, params, worker}
      {"kind": "epoch", trial, epoch, epochs, value, val_acc, val_loss, train_loss}
      {"kind": "trial_end", number, state (complete/pruned/failed), status, value, epochs,
       seconds, best_val_acc, params, best_value, best_number}
      {"kind": "search_end", study, objective, best_value, best_params, best_number,
       n_complete, n_pruned, n_failed (the whole study, every worker), this_worker {...}, stopped}
    None for base_config/space/objective/data: the study's stored settings (or defaults).
    """
    from mnist_core.data.preprocess import DataSplit, make_split
    from mnist_core.training.train import resolve_device

    if n_trials is None and timeout is None:
        raise TuneError("Give a budget: a number of trials, a time limit, or both.")
    if n_trials is not None and n_trials < 1:
        raise TuneError(f"The number of trials must be at least 1, got {n_trials}.")
    if timeout is not None and timeout <= 0:
        raise TuneError(f"The time limit must be above 0 seconds, got {timeout}.")
    stop = stop or threading.Event()
    split = data if isinstance(data, DataSplit) else None
    spec = split.source.key if split is not None else data
    chosen_pruner = None if isinstance(pruner, str) else pruner
    if isinstance(pruner, str) and pruner not in PRUNERS:
        raise TuneError(f"Unknown pruner {pruner!r}: one of {', '.join(PRUNERS)}.")
    study, settings, notes, created = _open_study(
        study_name,
        storage_url,
        space,
        base_config,
        objective,
        spec,
        heartbeat,
        make_sampler(seed),
        chosen_pruner,
        enqueue_base,
    )
    if chosen_pruner is None:
        study.pruner = make_pruner(pruner, settings.space.epochs)
    try:
        resolve_device(settings.base_config.device)  # a missing GPU fails now, not in every trial
        split = split or make_split(settings.data if spec is None else spec, settings.base_config)
    except Exception:
        if created:  # leave no empty study behind that holds settings which cannot run
            delete_study(study_name, storage_url)
        raise
    budget = _Budget(n_trials, timeout)
    for note in notes:
        yield {"kind": "note", "text": note, "progress": 0.0}
    store = open_storage(storage_url, heartbeat)
    mine = {"complete": 0, "pruned": 0, "failed": 0}
    while not stop.is_set() and not budget.exhausted():
        trial = _next_trial(study)
        outcome = yield from _run_trial(study, store, trial, settings, split, stop, budget, heartbeat)
        budget.done += 1
        mine[STATES[outcome.state]] += 1
        yield _trial_end(study, trial, outcome, settings, budget)
    yield _search_end(study, settings, mine, stop.is_set())


def _next_trial(study: optuna.Study) -> optuna.Trial:
    """Fail the trials of dead workers (running, heartbeat stale), then start a trial."""
    import optuna

    with warnings.catch_warnings():
        # Optuna calls heartbeats experimental and "supposed to be used with Study.optimize":
        # this loop is ask/tell so that it can yield records, and beats itself (_Heartbeat).
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        optuna.storages.fail_stale_trials(study)
        return study.ask()


def _run_trial(
    study: optuna.Study,
    store: RDBStorage,
    trial: optuna.Trial,
    settings: StudySettings,
    split: DataSplit,
    stop: threading.Event,
    budget: _Budget,
    heartbeat: int,
) -> Iterator[dict[str, Any]]:
    """Train one trial, reporting every epoch; tells the study how it ended (even when the
    consumer abandons the generator or training raises) and returns the outcome."""
    import optuna

    told = False
    try:
        with _Heartbeat(store, trial._trial_id, heartbeat):
            trial.set_user_attr("worker", worker_name())
            values = settings.space.suggest(trial)
            yield {
                "kind": "trial_start",
                "number": trial.number,
                "params": values,
                "worker": worker_name(),
                "progress": budget.progress(),
                "text": f"trial {trial.number} started: {_params_text(values)}",
            }
            outcome = yield from _train_trial(trial, settings, values, split, stop, budget)
            for key, value in (
                ("status", outcome.status),
                ("epochs_run", outcome.epochs),
                ("seconds", round(outcome.seconds, 2)),
                ("best_val_acc", outcome.best_val_acc),
            ):
                trial.set_user_attr(key, value)
            state = getattr(optuna.trial.TrialState, outcome.state)
            study.tell(trial, outcome.value if outcome.state == "COMPLETE" else None, state=state)
            told = True
            return outcome
    finally:
        if not told:  # an exception, or the consumer closed us mid-trial
            try:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            except Exception:
                pass


def _train_trial(
    trial: optuna.Trial,
    settings: StudySettings,
    values: dict[str, Any],
    split: DataSplit,
    stop: threading.Event,
    budget: _Budget,
) -> Iterator[dict[str, Any]]:
    from mnist_core.training.train import Trainer

    config = settings.space.config_for(settings.base_config, values)
    metric = settings.objective
    t0 = time.perf_counter()
    trainer = Trainer(config, split)
    accs: list[float] = []
    losses: list[float] = []
    status = None
    records = trainer.run(stop, report_every=1000)
    try:
        for rec in records:
            if rec.kind != "epoch" or rec.partial:
                continue  # a stopped epoch is no measurement of these settings
            value = rec.val_acc if metric == "val_acc" else rec.val_loss
            if not all(math.isfinite(v) for v in (rec.val_acc, rec.val_loss, rec.train_loss)):
                status = "diverged"  # an infinite validation loss is as broken as a NaN one
                break
            trial.report(value, rec.epoch)
            accs.append(rec.val_acc)
            losses.append(rec.val_loss)
            trial.set_user_attr("val_acc", accs)
            trial.set_user_attr("val_loss", losses)
            yield {
                "kind": "epoch",
                "trial": trial.number,
                "epoch": rec.epoch,
                "epochs": config.epochs,
                "value": value,
                "val_acc": rec.val_acc,
                "val_loss": rec.val_loss,
                "train_loss": rec.train_loss,
                "progress": budget.progress(rec.epoch / config.epochs),
                "text": f"  trial {trial.number} epoch {rec.epoch}/{config.epochs}: "
                f"{_value_text(metric, value)}",
            }
            if trial.should_prune():
                status = "pruned"
                break
    finally:
        records.close()  # a pruned trial's trainer is dropped mid-run
    seconds = time.perf_counter() - t0
    end = trainer.end
    if status is None:
        status = "stopped" if stop.is_set() else (end.status if end else "stopped")
    best_acc = max(accs) if accs else None
    if status in ("finished", "early_stopped") and end is not None and end.best_val_loss is not None:
        # the kept weights (best validation loss) are what a saved run of this config would hold
        value = end.best_val_acc if metric == "val_acc" else end.best_val_loss
        return _Outcome("COMPLETE", status, value, len(accs), seconds, end.best_val_acc)
    if status in ("pruned", "diverged"):  # a bad result: the sampler learns from it
        return _Outcome("PRUNED", status, None, len(accs), seconds, best_acc)
    return _Outcome("FAIL", status, None, len(accs), seconds, best_acc)


def _trial_end(
    study: optuna.Study, trial: optuna.Trial, outcome: _Outcome, settings: StudySettings, budget: _Budget
) -> dict[str, Any]:
    best = _best(study)
    state = STATES[outcome.state]
    metric = settings.objective
    result = f": {_value_text(metric, outcome.value)}" if outcome.value is not None else ""
    best_text = (
        f"; best so far: trial {best.number}, {_value_text(metric, best.value)}" if best is not None else ""
    )
    return {
        "kind": "trial_end",
        "number": trial.number,
        "state": state,
        "status": outcome.status,
        "value": _finite(outcome.value),
        "epochs": outcome.epochs,
        "seconds": round(outcome.seconds, 2),
        "best_val_acc": _finite(outcome.best_val_acc),
        "params": dict(trial.params),
        "best_value": _finite(best.value) if best else None,
        "best_number": best.number if best else None,
        "progress": budget.progress(),
        "text": f"trial {trial.number} {outcome.status} after {outcome.epochs} epochs in "
        f"{outcome.seconds:.1f} s{result}{best_text}",
    }


def _search_end(
    study: optuna.Study, settings: StudySettings, mine: dict[str, int], stopped: bool
) -> dict[str, Any]:
    summary = study_summary(study)
    best = summary["best_value"]
    text = ("search stopped" if stopped else "search finished") + (
        f": best trial {summary['best_trial']}, {_value_text(settings.objective, best)} "
        f"({_params_text(summary['best_params'])})"
        if best is not None
        else ": no complete trial yet"
    )
    text += (
        f"; study {study.study_name!r}: {summary['n_complete']} complete, "
        f"{summary['n_pruned']} pruned, {summary['n_failed']} failed"
    )
    return {
        "kind": "search_end",
        "study": study.study_name,
        "objective": settings.objective,
        "best_value": best,
        "best_params": summary["best_params"],
        "best_number": summary["best_trial"],
        "n_complete": summary["n_complete"],
        "n_pruned": summary["n_pruned"],
        "n_failed": summary["n_failed"],
        "this_worker": dict(mine),
        "stopped": stopped,
        "progress": 1.0,
        "text": text,
    }


def _value_text(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    return f"val acc {value:.2%}" if metric == "val_acc" else f"val loss {value:.4f}"


def _params_text(params: dict[str, Any] | None) -> str:
    return ", ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in (params or {}).items()
    )


# ====================================================================== command line


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """`tune`: run one search worker, or list the studies of a storage."""
    from mnist_core.cli.common import add_preset_flag

    p = sub.add_parser(
        "tune",
        help="search hyperparameters with Optuna (one worker; run several to share a study)",
        description="Run a search worker: trials are shared through the study in --storage, so "
        "several workers (on this or other machines) with the same --storage and "
        "--study cooperate. Progress goes to stderr; the last line on stdout is JSON.",
    )
    p.add_argument("--study", help="study name (created if it does not exist, else joined)")
    p.add_argument(
        "--storage",
        default=None,
        help="SQLAlchemy URL Optuna accepts, e.g. postgresql://USER@HOST/DB, or a path "
        "to a SQLite file (default: $MNIST_STUDIO_STORAGE, else studies.db in "
        "$MNIST_STUDIO_HOME or ./studio_data)",
    )
    p.add_argument("--list", action="store_true", help="list the studies in --storage and exit")
    p.add_argument("--json", action="store_true", help="with --list: one JSON line per study")
    p.add_argument("--trials", type=int, default=None, help="trials this worker runs")
    p.add_argument(
        "--timeout", type=float, default=None, help="seconds after which this worker starts no new trial"
    )
    p.add_argument(
        "--data",
        default=None,
        help="sample | mnist | auto | PATH to IDX files (default: the study's, or auto for a new study)",
    )
    p.add_argument(
        "--objective",
        choices=sorted(OBJECTIVES),
        default=None,
        help="val_acc (maximize validation accuracy, the default) or val_loss (minimize)",
    )
    add_preset_flag(p, f"base settings of a new study (default: {DEFAULT_PRESET})")
    p.add_argument(
        "--model",
        choices=TUNABLE_FAMILIES,
        default=None,
        help="model family to search (default: the preset's)",
    )
    p.add_argument("--space", default=None, help="JSON file holding a search space (as the app saves it)")
    p.add_argument(
        "--search",
        default=None,
        help=f"comma-separated parameters to search, from the family's default space: "
        f"{', '.join(PARAM_SPECS)}",
    )
    p.add_argument(
        "--range",
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="set (and turn on) a parameter's range, e.g. lr=0.001:0.02, or its choices, "
        "e.g. batch_size=128,256",
    )
    p.add_argument("--epochs", type=int, default=None, help=EPOCHS_HELP)
    p.add_argument(
        "--pruner",
        choices=PRUNERS,
        default="median",
        help="stop hopeless trials early: median (default), halving (successive halving) or none",
    )
    p.add_argument(
        "--sampler-seed",
        type=int,
        default=None,
        help="seed of the TPE sampler (give each worker its own, or none)",
    )
    p.add_argument(
        "--heartbeat",
        type=int,
        default=HEARTBEAT_S,
        help=f"seconds between this worker's 'still alive' marks; a trial silent for "
        f"{GRACE_FACTOR}x as long is marked failed by the next worker (default {HEARTBEAT_S})",
    )
    return p


def cmd_tune(args: argparse.Namespace) -> int:
    from mnist_core.cli.common import CliError

    try:
        if args.list:
            return _cmd_list(args)
        if not args.study:
            raise TuneError("--study NAME is required (or --list to see the studies).")
        if args.trials is None and args.timeout is None:
            raise TuneError("Give a budget: --trials N, --timeout SECONDS, or both.")
        return _cmd_search(args)
    except TuneError as exc:
        raise CliError(str(exc)) from exc


def _cmd_search(args: argparse.Namespace) -> int:
    from mnist_core.cli.common import CliError

    base = _base_from_args(args)
    space = _space_from_args(args, base)
    stop = threading.Event()
    end: dict[str, Any] | None = None
    try:
        for rec in run_search(
            args.study,
            args.storage,
            base,
            space,
            args.trials,
            args.timeout,
            args.data,
            args.objective,
            stop,
            pruner=args.pruner,
            seed=args.sampler_seed,
            heartbeat=args.heartbeat,
        ):
            print(rec["text"], file=sys.stderr, flush=True)
            if rec["kind"] == "search_end":
                end = rec
    except KeyboardInterrupt:
        stop.set()
        raise CliError("interrupted (the running trial was marked failed)") from None
    assert end is not None
    print(
        json.dumps(
            {
                "study": end["study"],
                "storage": storage_label(args.storage),
                "objective": end["objective"],
                "best_value": end["best_value"],
                "best_params": end["best_params"],
                "best_trial": end["best_number"],
                "n_complete": end["n_complete"],
                "n_pruned": end["n_pruned"],
                "n_failed": end["n_failed"],
                "this_worker": end["this_worker"],
            },
            allow_nan=False,
        )
    )
    return 0


def _base_from_args(args: argparse.Namespace) -> TrainConfig | None:
    if args.preset is None and args.model is None:
        return None  # the study's own, or the default for a new study
    if args.preset is None:
        return family_base(args.model)
    base = PRESETS[args.preset]
    return base.replace(model=args.model) if args.model else base


def _space_from_args(args: argparse.Namespace, base: TrainConfig | None) -> SearchSpace | None:
    if args.space is None and args.search is None and not args.range and args.epochs is None:
        return None  # the study's own, or the family's default for a new study
    if args.space is not None:
        try:
            space = SearchSpace.from_dict(json.loads(Path(args.space).read_text()))
        except (OSError, ValueError) as exc:
            if isinstance(exc, TuneError):
                raise
            raise TuneError(f"Cannot read the search space file {args.space}: {exc}") from exc
    else:
        space = default_space(args.model or (base.model if base else PRESETS[DEFAULT_PRESET].model))
    if args.search is not None:
        wanted = [n.strip() for n in args.search.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in PARAM_SPECS]
        if unknown:
            raise TuneError(
                f"--search: unknown parameter(s) {', '.join(unknown)}; one of {', '.join(PARAM_SPECS)}."
            )
        missing = [n for n in wanted if n not in {p.name for p in space.params}]
        if missing:
            raise TuneError(f"--search: {', '.join(missing)} cannot be searched for the {space.model} model.")
        space = replace(space, params=tuple(replace(p, enabled=p.name in wanted) for p in space.params))
    for item in args.range:
        space = _apply_range(space, item)
    if args.epochs is not None:
        space = replace(space, epochs=args.epochs)
    return space


def _apply_range(space: SearchSpace, item: str) -> SearchSpace:
    name, sep, value = item.partition("=")
    name = name.strip()
    if not sep or name not in PARAM_SPECS:
        raise TuneError(
            f"--range {item!r}: expected NAME=LOW:HIGH or NAME=A,B with NAME one of {', '.join(PARAM_SPECS)}."
        )
    spec = PARAM_SPECS[name]
    try:
        if spec.kind == "choice":
            choices = tuple(_parse_choice(c, spec) for c in value.split(",") if c.strip())
            return space.with_param(name, enabled=True, choices=choices)
        low, colon, high = value.partition(":")
        if not colon:
            raise ValueError("expected LOW:HIGH")
        cast = int if spec.kind == "int" else float
        return space.with_param(name, enabled=True, low=cast(low), high=cast(high))
    except ValueError as exc:
        if isinstance(exc, TuneError):
            raise
        raise TuneError(f"--range {item!r}: {exc}.") from None


def _parse_choice(text: str, spec: ParamSpec) -> Any:
    text = text.strip().lower()
    if isinstance(spec.options[0], bool):
        if text not in ("true", "false", "on", "off", "1", "0", "yes", "no"):
            raise ValueError(f"{text!r} is not true or false")
        return text in ("true", "on", "1", "yes")
    return int(text)


def _cmd_list(args: argparse.Namespace) -> int:
    rows = list_studies(args.storage)
    if args.json:
        for row in rows:
            print(json.dumps(row, allow_nan=False))
        return 0
    if not rows:
        print(
            f"No studies in {storage_label(args.storage)} yet: python -m mnist_core tune --study NAME --trials N"
        )
        return 0
    print(
        f"{'study':24} {'objective':9} {'model':7} {'trials':>6} {'done':>5} {'pruned':>6} "
        f"{'failed':>6} {'best':>9}  started"
    )
    for r in rows:
        best = r["best_value"]
        shown = "-" if best is None else (f"{best:.2%}" if r["objective"] == "val_acc" else f"{best:.4f}")
        print(
            f"{r['name'][:24]:24} {str(r['objective']):9} {str(r['model']):7} {r['n_trials']:6d} "
            f"{r['n_complete']:5d} {r['n_pruned']:6d} {r['n_failed']:6d} {shown:>9}  {r['started'] or ''}"
        )
    return 0
