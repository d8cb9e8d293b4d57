"""Peak memory of reading hostile IDX files: a gzip bomb and a forged header (printed, never asserted).

Target (issue 10): peak memory for any IDX input <= 2x the size its header declares; a tiny
file declaring a huge size costs (almost) nothing. Each case runs in a fresh process, so its
peak RSS growth is the reader's alone.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import tempfile
from pathlib import Path

DECLARED_IMAGES = 100_000  # 78.4 MB declared
BOMB_EXTRA = 500_000_000  # bytes of zeros beyond the declared size (the file stays ~0.5 MB)

_MEASURE = """
import resource, sys
from mnist_core.data.errors import DataError
from mnist_core.data.idx import read_idx
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_idx(sys.argv[1], 3)
    outcome = "accepted"
except DataError as exc:
    outcome = "refused: " + str(exc).replace(sys.argv[1], "the file")[:90]
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024, outcome)
"""


def _header(n: int) -> bytes:
    return bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2


def _write_bomb(path: Path) -> None:
    with gzip.open(path, "wb", compresslevel=1) as fh:  # streamed: building it costs no memory
        fh.write(_header(DECLARED_IMAGES))
        zeros = bytes(1 << 24)
        left = DECLARED_IMAGES * 784 + BOMB_EXTRA
        while left > 0:
            fh.write(zeros[:left])
            left -= len(zeros)


def _measure(path: Path) -> tuple[float, str]:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    growth, outcome = proc.stdout.strip().split(" ", 1)
    return float(growth), outcome


def run() -> None:
    print(
        "\n## IDX reading under attack (target: peak RSS growth <= 2x the declared data size; "
        "nothing beyond what the file really holds)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb-idx3-ubyte.gz"
        _write_bomb(bomb)
        forged = Path(tmp) / "forged-idx3-ubyte.gz"
        forged.write_bytes(gzip.compress(_header(1_000_000) + bytes(10)))
        for label, path, declared, inflated in (
            ("gzip bomb", bomb, DECLARED_IMAGES * 784, DECLARED_IMAGES * 784 + BOMB_EXTRA),
            ("forged header", forged, 1_000_000 * 784, 10),
        ):
            growth, outcome = _measure(path)
            print(
                f"{label}: file {path.stat().st_size / 1e6:.2f} MB, declares {declared / 1e6:,.1f} MB, "
                f"inflates to {inflated / 1e6:,.1f} MB; peak RSS growth {growth:,.0f} MB "
                f"(target <= {2 * declared / 1e6:,.0f}); {outcome}"
            )


if __name__ == "__main__":
    run()
