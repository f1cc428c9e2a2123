"""ResNet18 in MLX, torchvision's architecture and weights, as in test_resnet18.py."""

import pytest

from accelbench.workloads.resnet18_mlx import MlxResNet18


@pytest.mark.workload.with_args(MlxResNet18)
def test_resnet18_mlx(measure):
    measure()
