"""TensorFlow devices behind a guarded import (placeholder until the TF backend lands)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def import_error() -> str | None:
    """None when ``import tensorflow`` works; otherwise the error's text."""
    try:
        import tensorflow  # noqa: F401
    except Exception as exc:  # a broken plugin raises more than ImportError
        return f"TensorFlow unusable: {type(exc).__name__}: {exc}".splitlines()[0]
    return None


def get_device(name: str) -> Any:
    raise NotImplementedError("TensorFlow devices are not implemented yet")


def environment() -> dict[str, Any]:
    error = import_error()
    if error:
        return {"error": error}
    import tensorflow as tf

    return {"tensorflow": tf.__version__}
