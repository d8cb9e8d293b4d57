"""The benchmark's side-by-side reference runs the pytorch/examples recipe for real."""

import torch

from bench.examples_reference import ExamplesNet, run_in_own_process
from mnist_core.data.sources import Images


def test_the_examples_recipe_trains_in_its_own_process_from_idx_files():
    gen = torch.Generator().manual_seed(0)
    train = Images(
        torch.randint(0, 256, (130, 28, 28), dtype=torch.uint8, generator=gen), torch.arange(130) % 10
    )
    test = Images(
        torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8, generator=gen), torch.arange(40) % 10
    )
    result = run_in_own_process(train, test, timeout_s=300)
    assert result["images"] == 130  # read back by torchvision's MNIST from the IDX files written
    assert result["parameters"] == sum(p.numel() for p in ExamplesNet().parameters()) == 1_199_882
    assert result["seconds"] > 0 and 0.0 <= result["accuracy"] <= 1.0
    assert result["device"] in ("cpu", "cuda")
