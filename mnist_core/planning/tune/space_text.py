"""A search space from text, as the `tune` command takes it: a JSON file (as the app saves a
space), a comma-separated list of the parameters to search (`--search`), and a range or choices
per parameter (`--range NAME=LOW:HIGH`, `NAME=A,B`). Bad text raises TuneError saying why."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mnist_core.files import FileRefused, read_json
from mnist_core.planning.tune import TuneError
from mnist_core.planning.tune.params import PARAM_SPECS, ParamSpec
from mnist_core.planning.tune.space import SearchSpace

MAX_SPACE_BYTES = 1_000_000  # a saved space is a few hundred bytes


def read_space(path: str) -> SearchSpace:
    """The search space saved as JSON in the file `path` (a regular file of at most 1 MB)."""
    try:
        return SearchSpace.from_dict(read_json(path, limit=MAX_SPACE_BYTES, what="search space file"))
    except FileRefused as exc:
        reason = str(exc).split(f"{path} ", 1)[-1]
        raise TuneError(f"Cannot read the search space file {path}: it {reason}.") from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, TuneError):
            raise
        raise TuneError(f"Cannot read the search space file {path}: {exc}") from exc


def search_only(space: SearchSpace, names: str) -> SearchSpace:
    """`space` with exactly the comma-separated parameters `names` on, the others off."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in PARAM_SPECS]
    if unknown:
        raise TuneError(
            f"--search: unknown parameter(s) {', '.join(map(_shown, unknown))}; one of {', '.join(PARAM_SPECS)}."
        )
    missing = [n for n in wanted if n not in {p.name for p in space.params}]
    if missing:
        raise TuneError(f"--search: {', '.join(missing)} cannot be searched for the {space.model} model.")
    return replace(space, params=tuple(replace(p, enabled=p.name in wanted) for p in space.params))


def _shown(name: str) -> str:
    """A name as typed, or quoted when it holds a newline or control character (one-line messages)."""
    return name if name.isprintable() else repr(name)


def apply_range(space: SearchSpace, item: str) -> SearchSpace:
    """`space` with one parameter on and set from `NAME=LOW:HIGH` (a range) or `NAME=A,B` (choices)."""
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
