"""TensorFlow/Keras: devices cpu, mps (Apple's Metal plugin) and cuda, behind a guarded import."""

from __future__ import annotations

from accelbench.backends.tf.devices import environment, get_device, import_error

__all__ = ["environment", "get_device", "import_error"]
