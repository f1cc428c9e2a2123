"""The simple CNN in MLX on synthetic 32x32 NHWC images, as in test_cnn_torch.py."""

import pytest

from accelbench.workloads.cnn_mlx import MlxSimpleCNN


@pytest.mark.workload.with_args(MlxSimpleCNN)
def test_cnn_mlx(measure):
    measure()
