"""The simple CNN in TensorFlow/Keras on synthetic 32x32 images, as in test_cnn_torch.py."""

import pytest

from accelbench.workloads.cnn_tf import TfSimpleCNN


@pytest.mark.workload.with_args(TfSimpleCNN)
def test_cnn_tf(measure):
    measure()
