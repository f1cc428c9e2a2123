"""What the PyTorch backend sets up before any case runs, and records."""

import torch

from accelbench.backends.torch.environment import environment


def test_cudnn_picks_convolution_algorithms_by_timing_them_and_the_environment_says_so():
    assert torch.backends.cudnn.benchmark is True
    assert environment()["cudnn_benchmark"] is True
