"""A study: created or joined by name in a storage, with the settings every worker of it must
agree on (space, base config, objective, data) stored alongside; loading and deleting one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mnist_core.config import DEFAULT_PRESET, PRESETS, ConfigError, TrainConfig
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.space import SearchSpace, default_space, family_base
from mnist_core.planning.tune.storage import HEARTBEAT_S, open_storage, storage_label

if TYPE_CHECKING:  # optuna costs ~0.5 s to import; only the functions that use it import it
    import optuna

OBJECTIVES = {"val_acc": "maximize", "val_loss": "minimize"}
OBJECTIVE_LABELS = {"val_acc": "validation accuracy", "val_loss": "validation loss"}
SETTINGS_ATTR = "mnist_studio"  # the study user attr holding space, base config, objective, data


@dataclass(frozen=True)
class StudySettings:
    """What every worker of a study must agree on; stored as the study's user attr."""

    space: SearchSpace
    base_config: TrainConfig
    objective: str
    data: str  # the resolved data source key ("sample", "mnist" or a folder)

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
) -> tuple[optuna.Study, StudySettings, list[str], bool]:
    """Create the study, or join it: (study, its settings, notes for the user, created here).

    Arguments left as None take the stored value (or a default for a new study). Given ones
    must match what the study was created with: a study searches one space, towards one goal.
    A new study first tries the base config itself (when it lies in the space), so the search
    starts from a known point.
    """
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


def next_name(model: str, names: list[str]) -> str:
    """The first free "<family>-<n>" study name."""
    i = 1
    while f"{model}-{i}" in names:
        i += 1
    return f"{model}-{i}"
