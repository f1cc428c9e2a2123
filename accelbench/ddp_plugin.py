"""pytest hooks for data-parallel runs under torchrun: which rank saves, the process
group's lifetime, and the single-device cases of a multi-rank launch.

Every rank runs the whole session. Rank 0 saves the run (``--benchmark-json``,
``--benchmark-autosave``, ``--benchmark-save``) and prints the tables and the summary; the
other ranks measure with it (every timed round waits for all of them) and save nothing:
their pytest-benchmark options that write files are cleared before pytest-benchmark reads
them, so ``accelbench.results.saving.save_run`` finds nothing to write on those ranks.

torch.distributed is imported only by a launch or by a data-parallel case: a plain
single-device run never starts a process group.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from accelbench.core import launch
from accelbench.core.launch import LaunchError

DISTRIBUTED = "accelbench.backends.torch.distributed"

# pytest-benchmark's options that write files or judge the run: rank 0's business only.
RANK_ZERO_OPTIONS = {
    "benchmark_json": None,
    "benchmark_save": None,
    "benchmark_autosave": False,
    "benchmark_histogram": None,
    "benchmark_cprofile_dump": False,
    "benchmark_compare": None,
    "benchmark_compare_fail": None,
    "benchmark_quiet": True,
}


def single_device_reason(world_size: int) -> str:
    return (
        f"single-device case not run by a launch of {world_size} ranks (every rank would run "
        "it at once on shared hardware): run it without torchrun, or with --nproc-per-node 1"
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before pytest-benchmark reads its options: on ranks other than 0, nothing to save.

    Under a launcher every rank joins the process group now, whichever cases it runs.
    """
    try:
        current = launch.current()
    except LaunchError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not current.is_leader:
        leave_saving_to_rank_zero(config)
    if current.launched:
        from accelbench.backends.torch import distributed

        distributed.world()


def leave_saving_to_rank_zero(config: pytest.Config) -> None:
    # With the suite's plugin loaded late (from a conftest), argparse has already opened
    # --benchmark-json's file (FileType): close it unwritten. Otherwise it is a path.
    handle = getattr(config.option, "benchmark_json", None)
    if handle is not None and hasattr(handle, "close"):
        handle.close()
    for name, value in RANK_ZERO_OPTIONS.items():
        if hasattr(config.option, name):
            setattr(config.option, name, value)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Under a launch of several ranks, single-device cases skip with the reason."""
    world_size = launch.current().world_size
    marker = item.get_closest_marker("workload")
    strategy = marker.args[0].strategy if marker else None
    if world_size == 1 or marker is None or (strategy is not None and strategy.spans_ranks):
        return
    from accelbench.plugin import STATE

    reason = single_device_reason(world_size)
    device = getattr(item, "callspec", None)
    if STATE in item.config.stash and device is not None:
        name = str(device.params.get("device", "?"))
        item.config.stash[STATE].skip_reasons.setdefault(name, set()).add(reason)
    pytest.skip(reason)


@pytest.hookimpl(trylast=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
    """How the run was launched, in the run's own environment block (it is a fact of the
    run, not of the machine: pytest-benchmark compares machine_info between runs). Only
    where torch.distributed was started: a plain single-device run does not start it."""
    module = sys.modules.get(DISTRIBUTED)
    if not (launch.current().launched or (module is not None and module.started())):
        return
    from accelbench.backends.torch import distributed

    block: Any = output_json.setdefault("accelbench", {})
    block.setdefault("environment", {})["distributed"] = distributed.run_facts()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Every rank waits here for the others (rank 0 has saved the run and printed its
    summary by now), then the process group is torn down. Output is flushed first: once
    one rank exits with failures, torchrun stops the others."""
    module = sys.modules.get(DISTRIBUTED)
    if module is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        module.stop()
