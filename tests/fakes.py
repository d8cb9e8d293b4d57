"""Fake MNIST files for tests: IDX bytes, the four gzipped files, and a loopback mirror serving them
(MNIST cannot be downloaded here, so the download path is tested against this server)."""

from __future__ import annotations

import gzip
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_mnist(n_train: int = 120, n_test: int = 30, seed: int = 0) -> dict[str, bytes]:
    """Gzipped IDX files shaped like MNIST's four, with random images and balanced labels."""
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(rng.integers(0, 256, (n, 28, 28))))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(np.arange(n) % 10))
    return files


@contextmanager
def serve_mirror(root: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Write the fake files into `root` and serve them on a free loopback port: (url, files)."""
    root.mkdir(parents=True, exist_ok=True)
    files = fake_mnist()
    for name, content in files.items():
        (root / name).write_bytes(content)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", files
    finally:
        server.shutdown()
        server.server_close()
