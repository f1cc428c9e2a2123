"""The simple CNN in PyTorch on synthetic 32x32 images."""

import pytest

from accelbench.workloads.cnn import SimpleCNN


@pytest.mark.workload.with_args(SimpleCNN)
def test_cnn_torch(measure):
    measure()
