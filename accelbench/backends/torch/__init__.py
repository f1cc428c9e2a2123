"""PyTorch: devices cpu, mps (Apple GPU) and cuda (NVIDIA); the suite's reference framework."""

from __future__ import annotations

from accelbench.backends.torch.devices import get_device
from accelbench.backends.torch.environment import environment

__all__ = ["environment", "get_device", "import_error"]


def import_error() -> str | None:
    """PyTorch is a hard requirement: importing this package already imported it."""
    return None
