"""Frameworks as interchangeable backends: each maps the suite's device names to its Devices.

PyTorch is a hard requirement; TensorFlow and MLX are optional and imported only when one
of their cases runs, behind a guard, so that a broken TensorFlow or MLX skips its own cases
and nothing else.
"""

from __future__ import annotations

from typing import Any


def unusable_reason(framework: str) -> str | None:
    """None when the framework imports and works; otherwise the reason (e.g. the import error)."""
    if framework == "tf":
        from accelbench import tf_devices

        return tf_devices.import_error()
    if framework == "mlx":
        from accelbench import mlx_devices

        return mlx_devices.import_error()
    return None


def get_device(framework: str, name: str) -> Any:
    if framework == "tf":
        from accelbench import tf_devices

        return tf_devices.get_device(name)
    if framework == "mlx":
        from accelbench import mlx_devices

        return mlx_devices.get_device(name)
    from accelbench import devices

    return devices.get_device(name)
