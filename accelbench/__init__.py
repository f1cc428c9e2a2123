"""accelbench: how much faster is the GPU? A pytest-benchmark suite for CPU vs MPS/CUDA.

PYTEST_DONT_REWRITE: the package holds no tests; `accelbench run` imports it before pytest
starts, which would otherwise be warned about as a plugin imported before its rewrite.
"""

__version__ = "0.5.0"
