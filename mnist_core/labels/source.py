"""What an audit looks at: a data source's training pool (file order), plus labelled drawings if asked.

Index numbering is the same for the sample, full MNIST and an IDX folder: the 0-based position of
the image in the source's training images as loaded (file order). Drawings keep their store id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_core.config import studio_home


@dataclass
class AuditInput:
    images: Any  # uint8 tensor (N, 28, 28)
    labels: Any  # int64 tensor (N,)
    origins: list[tuple[str, int]]  # (source, index) of each image
    data: str  # the source's key
    source_name: str


def audit_input(spec: str, include_drawings: bool = False, home: Path | None = None) -> AuditInput:
    """The training pool of `spec`, with the labelled drawings appended when asked."""
    import torch

    from mnist_core.data.sources import load_train_pool, resolve_source

    source = resolve_source(spec)
    pool = load_train_pool(source.key)
    images, labels = pool.images, pool.labels
    origins = [("training", i) for i in range(len(pool))]
    if include_drawings:
        from mnist_core.deploy.collect import DrawingStore

        path = (home or studio_home()) / "drawings.db"
        drawings = [d for d in DrawingStore(path).list() if d.true_label is not None] if path.exists() else []
        if drawings:
            extra = torch.stack([torch.from_numpy(d.image28.copy()) for d in drawings])
            images = torch.cat([images, extra])
            labels = torch.cat([labels, torch.tensor([d.true_label for d in drawings], dtype=torch.int64)])
            origins += [("drawings", d.id) for d in drawings]
    return AuditInput(images, labels, origins, source.key, source.name)
