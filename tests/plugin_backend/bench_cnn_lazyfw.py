import pytest
from lazyfw.workload import LazyCNN


@pytest.mark.workload.with_args(LazyCNN)
def test_cnn_lazyfw(measure):
    measure()
