"""This machine's matmul and copy ceilings in MLX, as in test_ceiling.py."""

import pytest

from accelbench.workloads.ceiling_mlx import MlxCeiling


@pytest.mark.workload.with_args(MlxCeiling)
def test_ceiling_mlx(measure):
    measure()
