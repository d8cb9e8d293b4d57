"""What one search worker may still run (trials and/or seconds) and how far through it is."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Budget:
    """What this worker may still run: trials and/or seconds; its progress through them."""

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
