"""The pytorch/examples MNIST recipe as a person runs it: `mnist/main.py`'s model, data
pipeline and training loop, in a process of its own, for the side-by-side figure of issue 11.

What is kept from main.py, unchanged: the 1.2 M-parameter `Net`, torchvision's `datasets.MNIST`
read from IDX files with `ToTensor()` + `Normalize((0.1307,), (0.3081,))` per image, a
`DataLoader` with batch 64 (on a CPU main.py passes no shuffle and no workers), Adadelta lr 1.0
with StepLR gamma 0.7, `F.nll_loss`, `loss.item()` every 10 batches (its log interval; the
printing is left out), seed 1. The images are written as IDX files into a temporary folder
first, since MNIST cannot be downloaded here. The process gets the stock glibc allocator and no
flush-to-zero (the settings this project tunes), as `python main.py` would.

`python -m bench.examples_reference FOLDER` trains one epoch on FOLDER/MNIST/raw and prints
one JSON line: epoch seconds, test accuracy, parameter count, threads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from mnist_core.data.sources import Images

ROOT = Path(__file__).resolve().parents[1]
LOG_INTERVAL = 10  # main.py's default


class ExamplesNet(nn.Module):
    """The CNN of pytorch/examples' mnist/main.py (1.2 M parameters), unchanged."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist_folder(root: Path, train: Images, test: Images) -> None:
    """`train` and `test` as the four IDX files where torchvision's MNIST looks for them."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, part in (("train", train), ("t10k", test)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", part.images.numpy())
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", part.labels.numpy())


def run_in_own_process(train: Images, test: Images, timeout_s: float = 600) -> dict:
    """One epoch of the examples' recipe in a fresh Python process; its JSON result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    with tempfile.TemporaryDirectory() as tmp:
        write_mnist_folder(Path(tmp), train, test)
        out = subprocess.run(
            [sys.executable, "-m", "bench.examples_reference", tmp],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(folder: str) -> None:
    from torch import optim
    from torch.optim.lr_scheduler import StepLR
    from torchvision import datasets, transforms

    torch.manual_seed(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(folder, train=True, download=False, transform=transform)
    test_set = datasets.MNIST(folder, train=False, transform=transform)
    cuda_kwargs = {"num_workers": 1, "pin_memory": True, "shuffle": True} if device.type == "cuda" else {}
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, **cuda_kwargs)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000, **cuda_kwargs)
    model = ExamplesNet().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)

    model.train()
    start = time.perf_counter()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % LOG_INTERVAL == 0:
            loss.item()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    scheduler.step()

    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            pred = model(data.to(device)).argmax(dim=1)
            correct += int((pred.cpu() == target).sum())
    print(
        json.dumps(
            {
                "seconds": seconds,
                "accuracy": correct / len(test_set),
                "parameters": sum(p.numel() for p in model.parameters()),
                "threads": torch.get_num_threads(),
                "device": str(device),
                "images": len(train_set),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
