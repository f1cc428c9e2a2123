"""Shared fixtures: whole pytest sessions of the suite, run in a scratch directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ("--benchmark-only", "--bench-size", "smoke")  # a pytester session at the smallest sizes


# pytest-benchmark opens --benchmark-json PATH with argparse.FileType and never closes it;
# in a long in-process session the garbage collector reports that file at a random later
# test. Not ours to fix, and harmless: the JSON is written and flushed at session end.
LEAKS = (
    "ignore:unclosed file <_io.BufferedWriter:ResourceWarning",
    "ignore:Exception ignored in. <_io.FileIO name=.* mode='wb'"
    ":pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every warning in the suite's own tests is an error, but for the ini's ignores
    (a filter given later takes precedence)."""
    strict = pytest.mark.filterwarnings("error", *config.getini("filterwarnings"), *LEAKS)
    for item in items:
        item.add_marker(strict, append=False)


@pytest.fixture(autouse=True)
def no_step_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """No case is skipped as too slow: how long a step takes depends on the machine and its
    load, and the suite's tests must not. Tests of the limit plant a slow step and a limit
    of their own (the cases a session found too slow are its own runner's, forgotten with
    it)."""
    import dataclasses
    import math

    from accelbench.core.sizes import BUDGETS

    for name, budget in list(BUDGETS.items()):
        monkeypatch.setitem(BUDGETS, name, dataclasses.replace(budget, max_step_s=math.inf))


@pytest.fixture
def ten_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every case times exactly 10 rounds of one step each: how many rounds a budget allows
    depends on how fast the machine is, and a verdict needs at least 5
    (``accelbench.core.stability``); a test of a verdict must not depend on the machine."""
    import dataclasses

    from accelbench.core.sizes import BUDGETS

    for name, budget in list(BUDGETS.items()):
        fixed = dataclasses.replace(
            budget, min_rounds=10, max_rounds=10, measure_s=1e3, block_target_s=1e-9
        )
        monkeypatch.setitem(BUDGETS, name, fixed)


def _plant_load(monkeypatch: pytest.MonkeyPatch, others_cores: float) -> None:
    """Every CPU window the conditions measure from now on says other processes used
    ``others_cores`` of 2 cores (and the suite one core)."""
    from accelbench.core import conditions

    def window(start, end, cores):
        return {
            "wall_s": 1.0,
            "cores": 2,
            "machine_cpu_percent": 100.0 * min(1.0, (1.0 + others_cores) / 2),
            "own_cores": 1.0,
            "others_cores": others_cores,
        }

    monkeypatch.setattr(conditions, "cpu_window", window)
    monkeypatch.setattr(conditions, "cpu_count", lambda: 2)


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's own tests see an idle machine on mains power: whether other programs
    load this machine, or a laptop runs on battery, must not change what a test sees. Tests
    of the conditions plant the load (``fake_load``) or the pmset output they need."""
    from accelbench.core import conditions

    _plant_load(monkeypatch, others_cores=0.0)
    monkeypatch.setattr(conditions, "pmset_output", lambda *args: None)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary wraps its prose to the terminal's width; tests read it unwrapped (and
    tests of the wrapping set a width of their own)."""
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture
def fake_load(monkeypatch: pytest.MonkeyPatch):
    """``fake_load(others_cores=1.8)``: every CPU window the conditions measure from then on
    says other processes used that many of 2 cores (and the suite one core)."""

    def plant(others_cores: float) -> None:
        _plant_load(monkeypatch, others_cores)

    return plant


@pytest.fixture(scope="session", autouse=True)
def torch_lazy_imports_done() -> None:
    """pytester's in-process runs restore sys.modules afterwards, so a module torch imports
    lazily during a run (an optimizer's first step pulls in torch._dynamo) would be imported
    again by the next run and register its operators twice. Import them all once, here."""
    import torch
    import torchvision.models  # noqa: F401
    from torch.utils.flop_counter import FlopCounterMode

    from accelbench.backends.tf import devices as tf_devices

    tf_devices.import_error()  # TensorFlow aborts the process when imported a second time
    from accelbench.backends.mlx import devices as mlx_devices

    mlx_devices.import_error()  # MLX's extension module, loaded once for every run
    model = torch.nn.Linear(4, 4)
    for optimizer in (torch.optim.SGD, torch.optim.AdamW):
        opt = optimizer(model.parameters(), lr=0.1)
        with FlopCounterMode(display=False):
            q = model(torch.ones(1, 2, 4)).unsqueeze(1)
            torch.nn.functional.scaled_dot_product_attention(q, q, q).sum().backward()
        opt.step()
    torch.compile(lambda x: x + 1, backend="eager", dynamic=False)(torch.ones(2))  # dynamo
    torch._dynamo.reset()


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A scratch project with the accelbench plugin and the repository's pytest options.

    Copy benchmark modules in with ``add_benchmarks(suite, "test_resnet18.py", ...)``.
    """
    pytester.makeconftest('pytest_plugins = ["accelbench.plugin"]')
    ini = (ROOT / "pytest.ini").read_text().replace("testpaths = tests", "testpaths = benchmarks")
    pytester.makefile(".ini", pytest=ini)
    (pytester.path / "benchmarks").mkdir()
    return pytester


def add_benchmarks(pytester: pytest.Pytester, *names: str) -> None:
    for name in names:
        shutil.copy(ROOT / "benchmarks" / name, pytester.path / "benchmarks" / name)


@pytest.fixture
def fresh_devices():
    """Forget probed devices, so a monkeypatched backend is probed anew (and forgotten after)."""
    from accelbench.backends.torch.devices import get_device

    get_device.cache_clear()
    yield
    get_device.cache_clear()


class FakeEvent:
    """Stands in for torch.mps.event.Event: timestamps taken on the host."""

    def __init__(self, enable_timing: bool = False) -> None:
        self.t = None

    def record(self) -> None:
        import time

        self.t = time.perf_counter()

    def elapsed_time(self, end: FakeEvent) -> float:
        return (end.t - self.t) * 1e3


@pytest.fixture
def fake_mps(monkeypatch, fresh_devices):
    """MPS made usable on any machine: its tensors live on the CPU, and every
    ``torch.mps.synchronize`` call is logged into ``clocklog.EVENTS``."""
    import torch

    from accelbench.backends.torch.devices import MpsDevice

    import clocklog

    clocklog.EVENTS.clear()
    monkeypatch.setattr(MpsDevice, "_probe", lambda self: None)
    monkeypatch.setattr(MpsDevice, "torch_device", lambda self: torch.device("cpu"))
    monkeypatch.setattr(MpsDevice, "label", property(lambda self: "Fake M4 GPU (MPS)"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: clocklog.EVENTS.append("sync"))
    monkeypatch.setattr(torch.mps, "current_allocated_memory", lambda: 1000)
    monkeypatch.setattr(torch.mps, "driver_allocated_memory", lambda: 2000)
    monkeypatch.setattr(torch.mps, "empty_cache", lambda: None)
    monkeypatch.setattr(torch.mps.event, "Event", FakeEvent)
    return clocklog.EVENTS


@pytest.fixture(scope="session")
def tf():
    """TensorFlow, or a skip with the import error where it cannot be imported."""
    from accelbench.backends.tf import devices as tf_devices

    reason = tf_devices.import_error()
    if reason:
        pytest.skip(reason)
    return tf_devices.modules()[0]


@pytest.fixture(scope="session")
def mlx():
    """mlx.core, or a skip with the import error where MLX cannot be imported."""
    from accelbench.backends.mlx import devices as mlx_devices

    reason = mlx_devices.import_error()
    if reason:
        pytest.skip(reason)
    return mlx_devices.modules()[0]
