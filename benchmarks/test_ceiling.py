"""The machine's ceilings: a large matmul (FLOP/s) and a large copy (bytes/s) per device."""

import pytest

from accelbench.workloads.ceiling import Ceiling


@pytest.mark.workload.with_args(Ceiling)
def test_ceiling(measure):
    measure()
