import pytest
from fakefw.workload import FakeCNN


@pytest.mark.workload.with_args(FakeCNN)
def test_cnn_fakefw(measure):
    measure()
