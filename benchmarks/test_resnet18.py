"""torchvision ResNet18 (random weights) on synthetic 224x224 images."""

import pytest

from accelbench.workloads.resnet18 import ResNet18


@pytest.mark.workload.with_args(ResNet18)
def test_resnet18(measure):
    measure()
