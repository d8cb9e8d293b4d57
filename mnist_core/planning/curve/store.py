"""Saved learning curves: one JSON file per curve, `<studio home>/curves/<id>.json`, written
atomically; listed newest first, loaded by id or path, deleted. Damaged files are skipped in
the listing and named in a CurveError when opened.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mnist_core.config import TrainConfig, studio_home
from mnist_core.files import FileRefused, read_json
from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.fit import Fit

MAX_CURVE_BYTES = 16_000_000  # a saved curve is a few KB


def curves_dir(home: Path | None = None) -> Path:
    return Path(home or studio_home()) / "curves"


def check_curves_dir(home: Path | None = None) -> Path:
    """The curves folder of `home`, checked writable (not created yet); CurveError otherwise."""
    from mnist_core.runs.files import StorageError, writable_folder

    try:
        return writable_folder(curves_dir(home), "curves", create=False)
    except StorageError as exc:
        raise CurveError(str(exc)) from exc


def curves_signature(home: Path | None = None) -> tuple:
    """Changes whenever a curve file is added, removed or rewritten (writes are atomic renames):
    a cache key for a listing."""
    try:
        with os.scandir(curves_dir(home)) as entries:
            return tuple(sorted((e.name, e.stat().st_mtime_ns) for e in entries if e.is_file()))
    except FileNotFoundError:
        return ()


def new_curve_id(config: TrainConfig) -> str:
    return f"{datetime.now().strftime('%Y%m%d-%H%M%S')}-{config.model}-{uuid.uuid4().hex[:4]}"


def utc_now() -> str:
    """The time a curve is created, as stored: ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Curve:
    """A measured and fitted learning curve, as saved in `curves/<id>.json`."""

    id: str
    created: str
    status: str  # "finished" or "stopped" (fitted on the sizes done)
    message: str
    config: TrainConfig
    data: str  # the source key the split came from
    data_name: str
    n_train: int  # images in the training split (the largest possible size)
    n_val: int
    sizes: list[int]  # the sizes asked for (points may cover fewer when stopped)
    seeds: int
    points: list[dict[str, Any]]
    fit: Fit
    honesty: dict[str, Any] | None = None
    name: str = ""
    elapsed: float = 0.0
    schedule: list[dict[str, Any]] = field(default_factory=list)
    strategy: str = "random"  # the labelling strategy that picked each size's images
    group: str = ""  # shared by the curves of one comparison of strategies ("" when alone)
    path: Path | None = None

    @property
    def label(self) -> str:
        return (
            f"{self.name or self.config.summary()} · {self.data_name} · {self.created[:16].replace('T', ' ')}"
            + (f" · {self.strategy} labelling" if self.strategy != "random" else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "status": self.status,
            "message": self.message,
            "config": self.config.to_dict(),
            "data": self.data,
            "data_name": self.data_name,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "sizes": list(self.sizes),
            "seeds": self.seeds,
            "points": self.points,
            "fit": self.fit.to_dict(),
            "honesty": self.honesty,
            "name": self.name,
            "elapsed": self.elapsed,
            "schedule": self.schedule,
            "strategy": self.strategy,
            "group": self.group,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | None = None) -> Curve:
        from mnist_core.config import ConfigError

        try:
            points = [dict(p) for p in d["points"]]
            for p in points:
                p["size"], p["val_error"] = int(p["size"]), float(p["val_error"])
            return cls(
                id=str(d["id"]),
                created=str(d["created"]),
                status=str(d["status"]),
                message=str(d.get("message", "")),
                config=TrainConfig.from_dict(d["config"]),
                data=str(d["data"]),
                data_name=str(d.get("data_name", d["data"])),
                n_train=int(d["n_train"]),
                n_val=int(d["n_val"]),
                sizes=[int(s) for s in d["sizes"]],
                seeds=int(d["seeds"]),
                points=points,
                fit=Fit.from_dict(d["fit"]),
                honesty=d.get("honesty"),
                name=str(d.get("name", "")),
                elapsed=float(d.get("elapsed", 0.0)),
                schedule=list(d.get("schedule", [])),
                strategy=str(d.get("strategy", "random")),  # curves saved before strategies were random
                group=str(d.get("group", "")),
                path=path,
            )
        except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
            raise CurveError(f"{path or 'The curve'} is not a valid learning-curve file ({exc}).") from exc


def save_curve(curve: Curve, home: Path | None = None) -> Path:
    """Write `curve` as curves/<id>.json (atomically) and set its path."""
    from mnist_core.runs.files import write_json

    path = curves_dir(home) / f"{curve.id}.json"
    write_json(path, curve.to_dict())  # atomic, NaN-free
    curve.path = path
    return path


def _curve_path(curve_id: str | Path, home: Path | None) -> Path:
    path = Path(curve_id)
    if path.suffix == ".json" and path.is_file():
        return path
    if path.name != str(curve_id) or str(curve_id).startswith("."):
        raise CurveError(f"No saved learning curve {curve_id!r}.")
    return curves_dir(home) / f"{curve_id}.json"


def load_curve(curve_id: str | Path, home: Path | None = None) -> Curve:
    """Open a saved curve by id (or by the path of its JSON file)."""
    path = _curve_path(curve_id, home)
    if not os.path.lexists(path):
        raise CurveError(f"No saved learning curve {str(curve_id)!r} in {path.parent}.")
    try:
        data = read_json(path, limit=MAX_CURVE_BYTES, what="learning-curve file")
    except FileRefused as exc:
        raise CurveError(f"{path} is damaged ({str(exc).split(' is ', 1)[-1]}): delete it.") from None
    if not isinstance(data, dict):
        raise CurveError(f"{path} is not a valid learning-curve file.")
    return Curve.from_dict(data, path)


def list_curves(home: Path | None = None) -> list[Curve]:
    """Every readable saved curve, newest first; damaged files are skipped."""
    root = curves_dir(home)
    if not root.is_dir():
        return []
    curves = []
    for path in root.glob("*.json"):
        if path.name.startswith("."):
            continue
        try:
            curves.append(load_curve(path))
        except CurveError:
            continue
    return sorted(curves, key=lambda c: (c.created, c.id), reverse=True)


def delete_curve(curve_id: str, home: Path | None = None) -> None:
    """Remove a saved curve, by id (or by the path of its JSON file)."""
    path = _curve_path(curve_id, home)
    try:
        path.unlink()
    except FileNotFoundError as exc:
        raise CurveError(f"No saved learning curve at {path}.") from exc
