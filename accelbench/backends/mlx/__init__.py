"""MLX, Apple's array framework: devices cpu, mps (Metal) and cuda (MLX's CUDA build),
behind a guarded import."""

from __future__ import annotations

from accelbench.backends.mlx.devices import environment, get_device, import_error

__all__ = ["environment", "get_device", "import_error"]
