"""accelbench: how much faster is the GPU? A pytest-benchmark suite for CPU vs MPS/CUDA."""

__version__ = "0.1.0"
