"""Self-attention in MLX, naive and mx.fast.scaled_dot_product_attention, as test_attention.py."""

import pytest

from accelbench.workloads.attention_mlx import MlxAttention


@pytest.mark.workload.with_args(MlxAttention)
def test_attention_mlx(measure):
    measure()
