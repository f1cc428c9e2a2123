"""The registry of frameworks: name -> Backend.

A backend is one package under ``accelbench.backends`` that implements the framework's
devices (the ``accelbench.core.device.Device`` contract), its workload base and its
environment facts. This registry knows each backend by name, the device names it declares
and the module that implements it, and imports that module only when a case of the
framework runs: a PyTorch-only run never imports TensorFlow, and a broken framework skips
its own cases with the import error while the others run.

A backend module provides:

- ``import_error() -> str | None``: None when the framework imports and works, else why not;
- ``get_device(name) -> Device``: one of the device names declared here;
- ``environment(load: bool = True) -> dict``: versions and settings a number depends on
  (``load=False``: without importing the framework, from package metadata only).

Adding a framework is one backend package and one ``register(...)`` line below.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Backend:
    name: str
    title: str
    module: str
    devices: tuple[str, ...]

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def import_error(self) -> str | None:
        return self.load().import_error()

    def get_device(self, device: str) -> Any:
        return self.load().get_device(device)

    def environment(self, load: bool = True) -> dict[str, Any]:
        return self.load().environment(load=load)


REGISTRY: dict[str, Backend] = {}


def register(backend: Backend) -> Backend:
    REGISTRY[backend.name] = backend
    return backend


register(Backend("torch", "PyTorch", "accelbench.backends.torch", ("cpu", "mps", "cuda")))
register(Backend("tf", "TensorFlow", "accelbench.backends.tf", ("cpu", "mps", "cuda")))
register(Backend("mlx", "MLX", "accelbench.backends.mlx", ("cpu", "mps", "cuda")))


def get(name: str) -> Backend:
    return REGISTRY[name]


def names() -> tuple[str, ...]:
    """The registered frameworks, in registration order."""
    return tuple(REGISTRY)


def device_names() -> tuple[str, ...]:
    """Every device name some backend declares, in the order first declared."""
    return tuple(dict.fromkeys(d for b in REGISTRY.values() for d in b.devices))


def title(name: str) -> str:
    """What a person calls the framework: "PyTorch" for "torch"."""
    return REGISTRY[name].title if name in REGISTRY else name


def unusable_reason(framework: str) -> str | None:
    """None when the framework imports and works; otherwise the reason (e.g. the import error)."""
    return get(framework).import_error()


def get_device(framework: str, device: str) -> Any:
    return get(framework).get_device(device)
