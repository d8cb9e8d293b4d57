"""Labelling strategies: which images to label next, as `Sampler`s for `measure_curve`.

- `random`: today's seeded, class-balanced random pick (`sampling.random_sample`).
- `uncertainty`: batch-mode uncertainty sampling by margin. Every seed starts from the same random
  seed set as `random`; each later size keeps what was labelled, has the model trained on it score
  the still-unlabelled pool by the margin between its top two probabilities, and labels the most
  uncertain batch. At the whole pool it labels every image, in `random`'s order.
- `entropy`: the same, scored by the entropy of the probabilities.

A batch of the most uncertain images alone is often many near-copies of one ambiguous shape, so
the batch is drawn with a diversity guard: the most uncertain `CANDIDATES`× batch images are
clustered by k-means on the model's penultimate features, and the batch takes the most uncertain
image of each cluster in turn (round robin), so every cluster contributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mnist_core.planning.curve.errors import CurveError
from mnist_core.planning.curve.sampling import Labelled, Sampler, random_sample

if TYPE_CHECKING:
    import torch

    from mnist_core.data.sources import Images

STRATEGIES = {  # name → how the page and the sentences call it
    "random": "random labelling",
    "uncertainty": "uncertainty sampling",
    "entropy": "entropy sampling",
}
CANDIDATES = 4  # the batch is drawn from this many times its size of the most uncertain images
MAX_CLUSTERS = 50  # k-means on more would cost seconds per step on full MNIST for no more spread


def parse_strategies(text: str) -> list[str]:
    """'random,uncertainty' → ['random', 'uncertainty'] (order kept, repeats dropped); CurveError
    for an unknown name or none at all."""
    names = list(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    if not names:
        raise CurveError(f"Name at least one labelling strategy: {', '.join(STRATEGIES)}.")
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise CurveError(
            f"Unknown labelling strategy {unknown[0]!r}: choose from {', '.join(STRATEGIES)} "
            "(comma-separated, e.g. random,uncertainty)."
        )
    return names


def margin_uncertainty(probs: np.ndarray) -> np.ndarray:
    """1 − (top probability − second): 1 for a tie between two digits, 0 for a sure answer."""
    top2 = np.sort(probs, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def entropy_uncertainty(probs: np.ndarray) -> np.ndarray:
    """The entropy of the probabilities in nats: 0 for a sure answer, ln 10 for a uniform one."""
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=1)


SCORES = {"uncertainty": margin_uncertainty, "entropy": entropy_uncertainty}
MODEL_STRATEGIES = frozenset(SCORES)  # those that pick a size's images with the model of the size before


def diverse_batch(uncertainty: np.ndarray, feats: np.ndarray, batch: int, seed: int) -> np.ndarray:
    """Positions of `batch` rows to label: the most uncertain `CANDIDATES`×batch rows clustered by
    k-means on `feats`, then one row per cluster in turn, most uncertain first within each.

    Ties in uncertainty go to the lower position, and k-means is seeded, so the same inputs and
    seed always give the same batch. (More than CANDIDATES × batch near-copies of one image
    would fill the candidates on their own; real pools hold no such flood.)
    """
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    n = len(uncertainty)
    if batch >= n:
        return np.arange(n)
    order = np.argsort(-uncertainty, kind="stable")
    candidates = order[: min(n, batch * CANDIDATES)]
    k = min(batch, MAX_CLUSTERS, len(candidates))
    if k < 2:
        return candidates[:batch]
    data = np.asarray(feats[candidates], dtype=np.float64)
    # one thread: on a busy 2-core machine k-means' OpenMP threads fought over the cores
    # (1,000 candidates: 3 s with all threads, 0.16 s with one)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # copies make fewer distinct clusters
        clusters = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(data)
    # candidates are in falling uncertainty, so each cluster's list is too
    members = [candidates[clusters == c] for c in range(k)]
    members.sort(key=lambda m: -uncertainty[m[0]] if len(m) else 0.0)
    picked: list[int] = []
    rank = 0
    while len(picked) < batch:
        for m in members:
            if rank < len(m):
                picked.append(int(m[rank]))
                if len(picked) == batch:
                    break
        rank += 1
    return np.asarray(picked)


def uncertainty_sampler(score: str) -> Sampler:
    """A batch-mode uncertainty `Sampler` scoring by `SCORES[score]`."""
    uncertainty_of = SCORES[score]

    def sample(pool: Images, size: int, seed: int, labelled: Labelled | None) -> torch.Tensor:
        import torch

        from mnist_core.evaluation.embedding import features

        if labelled is None or size >= len(pool):
            # the seed set, or every image: the same images, in the same random order, as every
            # strategy's (so a comparison trains those points once: sharing.py)
            return random_sample(pool, size, seed, None)
        have = labelled.indices
        batch = size - len(have)
        if batch <= 0:
            return have[:size]
        unlabelled = torch.ones(len(pool), dtype=torch.bool)
        unlabelled[have] = False
        rest = torch.nonzero(unlabelled).flatten()
        seen = features(labelled.model, pool.images[rest])
        chosen = diverse_batch(uncertainty_of(seen.probs), seen.features, batch, seed)
        return torch.cat([have, rest[torch.from_numpy(chosen)]])

    return sample


def sampler_for(strategy: str) -> Sampler:
    """The `Sampler` of a strategy name (see STRATEGIES); CurveError for an unknown one."""
    if strategy == "random":
        return random_sample
    if strategy in SCORES:
        return uncertainty_sampler(strategy)
    raise CurveError(f"Unknown labelling strategy {strategy!r}: choose from {', '.join(STRATEGIES)}.")
