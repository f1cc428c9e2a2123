"""Self-attention alone, naive and sdpa, swept over sequence lengths."""

import pytest

from accelbench.workloads.attention import Attention


@pytest.mark.workload.with_args(Attention)
def test_attention(measure):
    measure()
