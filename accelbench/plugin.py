"""The pytest plugin: options, parametrization, the ``measure`` fixture and
pytest-benchmark hooks (machine info, saved JSON, end-of-run summary).

This is the only module that imports pytest, with ``accelbench.ddp_plugin`` (loaded from
here): the hooks for the ranks of a torchrun launch.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from accelbench import backends
from accelbench import benchmark_internals as internals
from accelbench.config import OptionError, SuiteConfig, parse_list
from accelbench.core import conditions, launch, machine, openmp, saved_form, stability
from accelbench.core.ceilings import PEAK
from accelbench.core.run_budget import RunBudget, format_duration
from accelbench.core.runner import CaseSkipped, Runner
from accelbench.core.sizes import BUDGETS, DEFAULT_PROFILE, PROFILES, QUICK
from accelbench.core.spec import (
    DTYPES,
    EAGER,
    MEMORY_FORMATS,
    MODES,
    NCHW,
    CaseSpec,
    layout_value,
)
from accelbench.core.sweep import DEFAULT_SWEEP, SWEEPS, case_variants
from accelbench.results import baseline, files, saving, text, views
from accelbench.results.record import parse_entries
from accelbench.results.runs import RESULTS_FORMAT, RunError


@dataclass
class SuiteState:
    config: SuiteConfig
    runner: Runner = field(default_factory=lambda: Runner(backends))  # the measurement loop
    skip_reasons: dict[str, set[str]] = field(default_factory=dict)
    items_finished: int = 0
    outcome: saving.Outcome = field(default_factory=saving.Outcome)
    chosen: baseline.BaselineChoice | None = None
    machine_note: str = ""
    not_comparable: baseline.NotComparable = field(default_factory=baseline.NotComparable)
    not_gated: baseline.NotComparable = field(default_factory=baseline.NotComparable)
    no_counterpart: list[str] = field(default_factory=list)
    compare_auto: bool = False  # --benchmark-compare without a name: chosen by the suite
    save_errors: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)
    run_watch: conditions.RunWatch | None = None
    case_conditions: list[dict[str, Any]] = field(default_factory=list)
    run_conditions: dict[str, Any] | None = None
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # device, case, reason
    unusable: set[str] = field(default_factory=set)  # reasons known before any case ran
    not_in_profile: list[str] = field(default_factory=list)
    budget: RunBudget | None = None
    saves_by_default: bool = False


# Data-parallel runs under torchrun: rank handling, process groups (accelbench/ddp_plugin.py).
pytest_plugins = ["accelbench.ddp_plugin"]

STATE = pytest.StashKey[SuiteState]()
SESSION = pytest.StashKey[pytest.Session]()


class DeferJsonOpen:
    """Keeps pytest-benchmark (up to 5.2) from emptying ``--benchmark-json PATH`` when the
    command line is read: it declares the option with ``argparse.FileType("wb")``, which
    truncates PATH before a single benchmark runs, so a crash, a Ctrl-C or a full disk at the
    end loses the earlier file. Once pytest-benchmark has declared the option, its type
    becomes the suite's ``JsonTarget`` (a path, written atomically at the end).

    This works when the suite's plugin is loaded before the command line is read, as
    ``-p accelbench.plugin`` in pytest.ini does; loaded later (from a conftest), the file
    is still written atomically at the end, but pytest-benchmark has already emptied it.
    """

    def __init__(self, parser: pytest.Parser) -> None:
        self.parser = parser

    def pytest_plugin_registered(self) -> None:
        internals.defer_json_open(self.parser, saving.JsonTarget)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("accelbench", "accelbench: CPU vs GPU benchmarks")
    group.addoption(
        "--devices",
        default=",".join(backends.device_names()),
        help="Comma-separated devices to benchmark; unusable ones skip with the reason. "
        "Default: %(default)r",
    )
    group.addoption(
        "--bench-size",
        default=DEFAULT_PROFILE,
        help=f"Size profile: {', '.join(PROFILES)}. Default: %(default)r",
    )
    group.addoption(
        "--dtype",
        default="fp32",
        help=f"Compute dtype of the torch workloads: {', '.join(DTYPES)}. Default: %(default)r",
    )
    group.addoption(
        "--frameworks",
        default=",".join(backends.names()),
        help="Comma-separated frameworks to benchmark. Default: %(default)r",
    )
    group.addoption(
        "--sweep",
        default=DEFAULT_SWEEP,
        help=f"Sweep: {', '.join(SWEEPS)}. 'batch' runs each workload at batch sizes doubling "
        "from 1 to the size profile's maximum, each point its own case (batch=N), and gives "
        "the CPU/accelerator crossover. Default: %(default)r",
    )
    group.addoption(
        "--mode",
        default=EAGER,
        help=f"Comma-separated execution modes: {', '.join(MODES)} (compile: torch.compile, "
        "TensorFlow's XLA, mx.compile; graph: the PyTorch language model's step replayed as "
        "a CUDA graph); each is its own case. Default: %(default)r",
    )
    group.addoption(
        "--memory-format",
        default=NCHW,
        help=f"Comma-separated layouts of the PyTorch CNNs: {', '.join(MEMORY_FORMATS)}; "
        "each is its own case. Default: %(default)r",
    )
    group.addoption(
        "--batch",
        default=None,
        help="Batch size for every workload that has one, instead of the size profile's "
        "(in the case's variant as batch=N, as a point of --sweep batch). Default: the profile's",
    )
    group.addoption(
        "--budget",
        default=None,
        metavar="DURATION",
        help="Time budget of the whole run (5m, 90s, 1h; none: no limit); a case expected "
        "not to fit is not started, and is listed as not run. Default: the size profile's "
        f"({', '.join(f'{p} {format_duration(b.run_budget_s)}' for p, b in BUDGETS.items())})",
    )
    group.addoption(
        "--no-autosave",
        action="store_true",
        default=False,
        help="Do not save the run into --benchmark-storage (a run saves itself, as "
        "--benchmark-autosave does, so that --benchmark-compare and report find it)",
    )
    group.addoption(
        "--bench-tables",
        action="store_true",
        default=False,
        help="Print pytest-benchmark's per-workload tables, the frameworks and energy "
        "sections and every skip reason in full (also with -v); by default the summary is "
        "about a screen, the headline last",
    )
    group.addoption(
        "--cooldown",
        default="0",
        metavar="SECONDS",
        help="Sleep this long before each case, so heat and other load can settle. "
        "Default: %(default)r",
    )
    group.addoption(
        "--no-yardsticks",
        action="store_true",
        default=False,
        help="Do not add the ceiling cases a selected language-model case is read against "
        "(tg: the copy, pp: the matmul, same device and dtype); by default they run with it",
    )
    group.addoption(
        "--gate-smoke",
        action="store_true",
        default=False,
        help="Let --benchmark-compare-fail judge smoke-size cases too (their steps are too "
        "short for a shared machine). Default: smoke-size cases are left out of the gate",
    )
    pluginmanager.register(DeferJsonOpen(parser), "accelbench-defer-json-open")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Validate the options and the output paths once, before any benchmark runs; choose the
    saved run to compare with.

    Runs before pytest-benchmark's own configure, which reads ``--benchmark-compare`` and
    loads the run it names.
    """
    config.addinivalue_line(
        "markers", "workload(cls): benchmark this Workload class over device x phase x variant"
    )
    try:
        suite = SuiteConfig.from_strings(
            config.getoption("devices"),
            config.getoption("bench_size"),
            config.getoption("dtype"),
            config.getoption("frameworks"),
            config.getoption("sweep"),
            config.getoption("mode"),
            config.getoption("memory_format"),
            config.getoption("batch"),
            config.getoption("cooldown"),
            config.getoption("budget"),
        )
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    openmp.prefer_passive_wait()  # before any framework loads OpenMP (at collection)
    state = config.stash[STATE] = SuiteState(
        suite,
        run_watch=conditions.RunWatch(suite.cooldown_s),
        budget=RunBudget(suite.budget_s, started_at=time.monotonic()),
    )
    state.saves_by_default = _save_by_default(config)
    compare = config.getoption("benchmark_compare", None)
    if config.getoption("benchmark_compare_fail", None) and not compare:
        raise pytest.UsageError(
            "--benchmark-compare-fail needs --benchmark-compare (the saved run to compare "
            "with); type: pytest benchmarks --benchmark-only --benchmark-compare "
            "--benchmark-compare-fail=median:15%"
        )
    if compare and config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        raise pytest.UsageError(
            "--benchmark-compare compares benchmark runs; type: "
            "pytest benchmarks --benchmark-only --benchmark-compare"
        )
    _check_outputs(config)
    if compare:
        state.compare_auto = compare is True
        state.chosen = _choose_baseline(config, suite, compare)


def _save_by_default(config: pytest.Config) -> bool:
    """A run saves itself into pytest-benchmark's storage, as ``--benchmark-autosave``
    does, unless ``--no-autosave`` or a name to save under (``--benchmark-save``) is given.
    Only benchmarks are saved: a session without any saves nothing."""
    if config.getoption("no_autosave") or config.getoption("benchmark_save", None):
        return False
    if not launch.current().is_leader:
        return False  # rank 0 saves a launch's run
    if config.getoption("benchmark_autosave", None) or not hasattr(
        config.option, "benchmark_autosave"
    ):
        return False
    config.option.benchmark_autosave = internals.autosave_name()
    return True


def _check_outputs(config: pytest.Config) -> None:
    """A bad output path is a usage error now, not a lost run at the end."""
    target = internals.json_option_path(config.getoption("benchmark_json", None))
    if target is not None:
        problem = files.output_file_problem(target)
        if problem:
            raise pytest.UsageError(f"--benchmark-json {target}: {problem}")
    storage = baseline.file_storage(str(config.getoption("benchmark_storage", "")))
    saving_run = config.getoption("benchmark_save", None) or config.getoption(
        "benchmark_autosave", None
    )
    if storage is None or not (saving_run or config.getoption("benchmark_compare", None)):
        return
    if storage.exists() and not storage.is_dir():
        raise pytest.UsageError(f"--benchmark-storage {storage}: is a file, not a folder")
    if saving_run:
        problem = files.creatable_folder_problem(storage / internals.machine_id())
        if problem:
            raise pytest.UsageError(f"--benchmark-storage {storage}: {problem}")


def _choose_baseline(
    config: pytest.Config, suite: SuiteConfig, compare: Any
) -> baseline.BaselineChoice | None:
    """Point pytest-benchmark at the saved run to compare with: the newest complete one of
    this run's size and dtype (``baseline.choose_baseline``), or the one named."""
    storage = baseline.file_storage(str(config.getoption("benchmark_storage", "")))
    if storage is None:
        return None  # not a file storage: pytest-benchmark's own choice
    folder = storage / internals.machine_id()
    hint = "save one first with: pytest benchmarks --benchmark-only --benchmark-autosave"
    if compare is not True:
        named = baseline.explicit_baseline(folder, str(compare))
        if not named:
            raise pytest.UsageError(
                f"--benchmark-compare={compare}: no saved run by that name in {folder}"
            )
        try:
            return baseline.named_baseline(named[0])
        except RunError as exc:
            raise pytest.UsageError(f"--benchmark-compare={compare}: {exc}") from None
    choice = baseline.choose_baseline(folder, suite.size, suite.dtype)
    if choice.path is None:
        skipped = f", {len(choice.skipped)} partial or unreadable" if choice.skipped else ""
        raise pytest.UsageError(
            "--benchmark-compare: no complete saved run to compare with for this machine "
            f"(in {folder}{skipped}); {hint}"
        )
    config.option.benchmark_compare = str(choice.path.resolve())
    return choice


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_compare_machine_info(
    config: pytest.Config, machine_info: dict, compared_benchmark: dict
) -> None:
    """Say in one line what differs between this machine and the baseline's, then hand
    pytest-benchmark's own check (which runs next) the same machine_info: its message is the
    two machine_info dicts whole, and with a storage outside the current folder it crashes
    (INTERNALERROR) while writing it."""
    saved = compared_benchmark.get("machine_info")
    if STATE in config.stash and isinstance(saved, dict):
        config.stash[STATE].machine_note = baseline.machine_differences(machine_info, saved)
    compared_benchmark["machine_info"] = machine_info


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("workload")
    if marker is None:
        return
    workload_cls = marker.args[0]
    suite = metafunc.config.stash[STATE].config
    if suite.size not in workload_cls.SIZES:
        return  # not in this size profile: deselected (pytest_collection_modifyitems)
    metafunc.parametrize("device", suite.devices)
    metafunc.parametrize("phase", workload_cls.phases)
    variants = case_variants(workload_cls, suite.size, suite.sweep, suite.batch)
    if variants != [""]:
        metafunc.parametrize("variant", variants)
    # Modes and layouts are named in a case's id only when asked for, so the ids of a
    # default run stay those of earlier saved runs.
    modes = [m for m in suite.modes if m in workload_cls.modes]
    if modes and suite.modes != (EAGER,):
        metafunc.parametrize("mode", modes)
    formats = [f for f in suite.memory_formats if f in workload_cls.memory_formats]
    if formats and suite.memory_formats != (NCHW,):
        values = [layout_value(f) for f in formats]
        metafunc.parametrize("memory_format", values, ids=formats)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the cases of frameworks not asked for with ``--frameworks``, workloads
    that have none of the ``--mode`` modes (the ceilings have no compiled form), and
    workloads without a shape in this size profile (named in the plan). Under a time budget,
    each framework's cases run together, in ``--frameworks`` order."""
    state = config.stash[STATE]
    suite = state.config
    keep, drop = [], []
    not_in_profile = set()
    for item in items:
        marker = item.get_closest_marker("workload")
        workload_cls = marker.args[0] if marker else None
        wanted = workload_cls is None or (
            workload_cls.framework in suite.frameworks
            and any(m in workload_cls.modes for m in suite.modes)
        )
        if wanted and workload_cls is not None and suite.size not in workload_cls.SIZES:
            not_in_profile.add(workload_cls.name)
            wanted = False
        (keep if wanted else drop).append(item)
    state.not_in_profile = sorted(not_in_profile)
    if state.budget is not None and state.budget.limited:
        keep.sort(key=lambda item: _framework_rank(item, suite.frameworks))
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


@pytest.hookimpl(wrapper=True, specname="pytest_collection_modifyitems")
def pytest_collection_with_yardsticks(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
):
    """When a case that is read as a share of a ceiling runs (a language model's tg against
    the copy, pp against the matmul: its workload's ``yardsticks``), that ceiling runs too,
    on the same device in the same dtype, so the share is never missing: taken back from
    what ``-k``, ``--mode`` or the other selections left out (ceilings run eagerly), or
    collected from a ``test_ceiling*.py`` beside the case's file; one per device and
    ceiling, already selected or else of the case's own framework, before the first case
    that needs it. In the quick profile a device's ceiling runs once, whatever the
    frameworks. ``--no-yardsticks`` turns this off."""
    collected = list(items)
    result = yield
    if STATE not in config.stash or config.getoption("no_yardsticks"):
        return result
    suite = config.stash[STATE].config
    pool = collected + [i for i in items if i not in collected]
    needed: dict[tuple[str, str], tuple[str, pytest.Item]] = {}
    for item in items:
        cls, spec = _item_spec(item, suite) or (None, None)
        if cls is not None and (ceiling := cls.yardsticks.get(spec.phase)):
            needed.setdefault((spec.device, ceiling), (spec.framework, item))
    for path, item in {i.path.parent: i for _, i in needed.values()}.items():
        for module in sorted(path.glob("test_ceiling*.py")):
            if module not in {i.path for i in collected}:
                parent = item.getparent(pytest.Module).parent
                pool += _items_of(pytest.Module.from_parent(parent, path=module))
    ceilings = [
        (spec, i)
        for i in pool
        if (found := _item_spec(i, suite))
        and (spec := found[1]).phase == PEAK
        and spec.framework in suite.frameworks
        and suite.size in found[0].SIZES
    ]
    chosen = {}
    for (device, variant), (framework, _) in needed.items():
        fits = [
            (i not in items, c.framework != framework, n, i)
            for n, (c, i) in enumerate(ceilings)
            if (c.device, c.variant) == (device, variant)
        ]
        if fits:
            chosen[(device, variant)] = min(fits)[-1]
    drop = []
    if suite.size == QUICK:
        for c, i in ceilings:
            if i in items and chosen.setdefault((c.device, c.variant), i) is not i:
                drop.append(i)
    added = [i for i in chosen.values() if i not in items]
    first = min([items.index(i) for _, i in needed.values()], default=0)
    items[:] = [i for i in items[:first] + added + items[first:] if i not in drop]
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    deselected = getattr(reporter, "stats", {}).get("deselected", [])
    deselected[:] = [i for i in deselected if i not in added]
    if drop:
        config.hook.pytest_deselected(items=drop)
    return result


def _items_of(node: pytest.Collector) -> list[pytest.Item]:
    found: list[pytest.Item] = []
    for child in node.collect():
        found += [child] if isinstance(child, pytest.Item) else _items_of(child)
    return found


def _framework_rank(item: pytest.Item, frameworks: tuple[str, ...]) -> int:
    marker = item.get_closest_marker("workload")
    framework = marker.args[0].framework if marker else ""
    return frameworks.index(framework) if framework in frameworks else len(frameworks)


def _item_spec(item: pytest.Item, suite: SuiteConfig) -> tuple[type, CaseSpec] | None:
    """The workload class and case identity of a benchmark item; None for other items."""
    marker = item.get_closest_marker("workload")
    callspec = getattr(item, "callspec", None)
    if marker is None or callspec is None:
        return None
    params = callspec.params
    return marker.args[0], _case_spec(
        marker.args[0],
        suite,
        str(params.get("device", "")),
        str(params.get("phase", "")),
        str(params.get("variant", "")),
        str(params.get("mode", EAGER)),
        str(params.get("memory_format", "")),
    )


def _case_spec(
    workload_cls: type,
    suite: SuiteConfig,
    device: str,
    phase: str,
    variant: str,
    mode: str,
    memory_format: str,
) -> CaseSpec:
    return CaseSpec(
        framework=workload_cls.framework,
        workload=workload_cls.name,
        device=device,
        phase=phase,
        dtype=suite.dtype,
        size=suite.size,
        variant=variant,
        mode=mode,
        memory_format=memory_format,
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Now that the cases are known: the baseline that holds them, and the plan."""
    _baseline_for_cases(session)
    _print_plan(session)


def _print_plan(session: pytest.Session) -> None:
    """Say up front what the run will measure, what it cannot, and within what time."""
    config = session.config
    if STATE not in config.stash or config.option.collectonly or not launch.current().is_leader:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    state = config.stash[STATE]
    planned = [
        (item.nodeid, *found) for item in session.items if (found := _item_spec(item, state.config))
    ]
    if reporter is None or not planned:
        return
    unusable_reason = state.runner.unusable_reason
    checked = [(spec, unusable_reason(workload_cls, spec)) for _id, workload_cls, spec in planned]
    state.unusable = {reason for _spec, reason in checked if reason}
    ready = [nodeid for (nodeid, _c, _s), (_spec, why) in zip(planned, checked) if not why]
    if state.budget is not None:
        state.budget.known = _saved_case_times(config, state.config, ready)
    for line in _plan_lines(state, checked, ready):
        reporter.write_line(_wrap(line), bold=line.startswith("accelbench plan"))


def _short(reason: str) -> str:
    """A reason's first clause: ``CUDA not available`` of ``CUDA not available: no usable
    NVIDIA GPU (...)``, ``MLX is not installed`` of ``MLX is not installed (pip install
    ...)``; the whole reason is printed with -v."""
    return reason.split(": ", 1)[0].split(" (", 1)[0]


def _by_device(found: Counter[tuple[str, str]]) -> list[str]:
    """``cuda: CUDA not available, MLX CUDA GPU not available (16 cases)``, a line per device."""
    lines = []
    for device in sorted({device for device, _reason in found}):
        reasons = {r: n for (d, r), n in found.items() if d == device}
        shorts = ", ".join(dict.fromkeys(_short(r) for r in reasons))
        lines.append(f"{device}: {shorts} ({_cases(sum(reasons.values()))})")
    return lines


def _saved_case_times(
    config: pytest.Config, suite: SuiteConfig, ready: list[str]
) -> dict[str, float]:
    """How long each of ``ready`` took in the newest saved run of this machine that holds
    them, at this size and dtype (nothing when there is none, or storage is elsewhere)."""
    storage = baseline.file_storage(str(config.getoption("benchmark_storage", "")))
    if storage is None or not ready:
        return {}
    folder = storage / internals.machine_id()
    return baseline.saved_case_times(folder, suite.size, suite.dtype, ready)


def _plan_lines(
    state: SuiteState, checked: list[tuple[CaseSpec, str | None]], ready_ids: list[str]
) -> list[str]:
    """The plan: how many cases will be measured, of which frameworks on which devices,
    within what time; what cannot run here; what the size profile leaves out."""
    suite = state.config
    unusable = Counter((spec.device, reason) for spec, reason in checked if reason)
    ready = [spec for spec, reason in checked if not reason]
    devices = sorted({spec.device for spec in ready})
    frameworks = [f for f in suite.frameworks if any(s.framework == f for s in ready)]
    budget = state.budget.total_s if state.budget else float("inf")
    within = (
        f"within --budget {format_duration(budget)}"
        if budget != float("inf")
        else "no time budget (--budget 10m sets one)"
    )
    known = state.budget.known if state.budget else {}
    timed = [known[nodeid] for nodeid in ready_ids if nodeid in known]
    about = (
        f"; about {format_duration(sum(timed))} for the {_cases(len(timed))} a saved run timed"
        if timed
        else ""
    )
    lines = [
        f"accelbench plan: --bench-size {suite.size}: {_cases(len(ready))} to measure "
        f"({', '.join(frameworks)} on {', '.join(devices)}), {within}{about}"
    ]
    if unusable:
        lines.append(f"  skipped at once, cannot run here ({_cases(sum(unusable.values()))}):")
        lines += [f"    {line}" for line in _by_device(unusable)]
    if state.not_in_profile:
        lines.append(
            f"  not in --bench-size {suite.size}: {', '.join(state.not_in_profile)} "
            "(--bench-size standard measures every workload)"
        )
    return lines


def _cases(n: int) -> str:
    return f"{n} case{'s' * (n != 1)}"


def _wrap(line: str, indent: str = "") -> str:
    """A line of prose wrapped to the terminal's width; its continuation lines indented
    like it, four spaces more."""
    width = max(40, shutil.get_terminal_size().columns - 1)
    if len(line) <= width:
        return line
    lead = line[: len(line) - len(line.lstrip())] + indent
    return textwrap.fill(line, width=width, subsequent_indent=lead + "    ", break_on_hyphens=False)


def _baseline_for_cases(session: pytest.Session) -> None:
    """With ``--benchmark-compare`` unnamed: now that the cases are known, compare with the
    newest complete run that holds them (``baseline.choose_baseline``), not merely the
    newest of this size and dtype (a ceiling-only run holds none of a CNN run's cases)."""
    config = session.config
    state = config.stash.get(STATE, None)
    bs = internals.session(config)
    if state is None or not state.compare_auto or state.chosen is None or bs is None:
        return
    storage = baseline.file_storage(str(config.getoption("benchmark_storage", "")))
    if storage is None or state.chosen.path is None:
        return
    wanted = [item.nodeid for item in session.items]
    suite = state.config
    choice = baseline.choose_baseline(
        storage / internals.machine_id(), suite.size, suite.dtype, wanted
    )
    if choice.path is not None:
        state.chosen = choice
        if choice.path.resolve() != Path(str(bs.compare)).resolve():
            internals.reload_compared(bs, str(choice.path.resolve()))


@pytest.fixture
def variant() -> str:
    return ""


@pytest.fixture
def mode() -> str:
    return EAGER


@pytest.fixture
def memory_format() -> str:
    return ""


@pytest.fixture
def measure(
    request: pytest.FixtureRequest,
    benchmark: Any,
    device: str,
    phase: str,
    variant: str,
    mode: str,
    memory_format: str,
) -> Any:
    """Call it once in a benchmark marked ``workload(cls)``: builds, checks and times the case."""
    marker = request.node.get_closest_marker("workload")
    if marker is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: 'measure' needs @pytest.mark.workload.with_args(cls)"
        )
    workload_cls = marker.args[0]
    state = request.config.stash[STATE]
    spec = _case_spec(workload_cls, state.config, device, phase, variant, mode, memory_format)

    def skip(reason: str) -> None:
        state.skip_reasons.setdefault(device, set()).add(reason)
        state.skipped.append((device, spec.label, reason))
        pytest.skip(reason)

    def run() -> dict[str, Any]:
        budget = state.budget
        refusal = budget.refusal(spec.framework, device, request.node.nodeid) if budget else None
        if refusal and not state.runner.unusable_reason(workload_cls, spec):
            skip(refusal)
        if state.config.cooldown_s and not benchmark.disabled:
            time.sleep(state.config.cooldown_s)
        if state.run_watch is not None:
            state.run_watch.case_starts()
        started = time.monotonic()
        try:
            info = state.runner.run(benchmark, workload_cls, spec)
        except CaseSkipped as exc:
            skip(str(exc))
        info["case_wall_s"] = time.monotonic() - started
        if budget is not None:
            budget.record(spec.framework, device, info["case_wall_s"])
        if isinstance(info.get("conditions"), dict):
            state.case_conditions.append(info["conditions"])
        if not benchmark.disabled and getattr(benchmark, "stats", None) is not None:
            stability.mark(info, benchmark.stats.stats.data)
        info.update(openmp.facts())
        benchmark.extra_info.update(saved_form.figures(**info))
        return info

    return run


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """machine_info, which pytest-benchmark compares between runs, gets only what identifies
    the machine; the CPU's clock of the moment (py-cpuinfo's ``hz_actual``) is left out."""
    cpu = machine_info.get("cpu")
    if isinstance(cpu, dict):
        for volatile in ("hz_actual", "hz_actual_friendly"):
            cpu.pop(volatile, None)
    machine_info["accelbench"] = machine.machine_facts(backends)


def _frameworks(config: pytest.Config) -> tuple[str, ...]:
    try:
        return parse_list("--frameworks", config.getoption("frameworks"), backends.names())
    except OptionError:
        return ()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
    """The run's own block: results format, whether the run is partial, its configuration
    and option-dependent facts, and the summary sections (the same computation as the
    summary printed at the end)."""
    state = config.stash.get(STATE, None)
    suite = state.config if state else None
    outcome = state.outcome if state else saving.Outcome()
    records, _unusable = parse_entries(output_json.get("benchmarks", []))
    output_json["accelbench"] = {
        "format": RESULTS_FORMAT,
        "partial": outcome.partial,
        "partial_reason": outcome.reason,
        "config": {
            "size": suite.size,
            "dtype": suite.dtype,
            "devices": list(suite.devices),
            "frameworks": list(suite.frameworks),
        }
        if suite
        else {},
        "environment": machine.run_facts(backends, _frameworks(config)),
        **views.compute_all(records),
    }
    if state is not None:
        output_json["accelbench"]["conditions"] = _run_conditions(state)


def _run_conditions(state: SuiteState) -> dict[str, Any]:
    """The run's conditions, summarised once from its cases (saved JSON and terminal agree)."""
    if state.run_conditions is None:
        watch = state.run_watch or conditions.RunWatch(state.config.cooldown_s)
        state.run_conditions = watch.summary(state.case_conditions)
    return state.run_conditions


_BENCHMARK_HEADER = re.compile(r"^benchmark: (?P<version>\S+) \(defaults: timer=(?P<timer>\S+) ")


@pytest.hookimpl(wrapper=True)
def pytest_report_header(config: pytest.Config) -> Any:
    """pytest-benchmark's header lists its own defaults (``min_rounds=5 ... warmup=False``),
    which this suite's benchmarks do not use: say what they do instead."""
    lines = yield
    if STATE not in config.stash:
        return lines
    size = config.stash[STATE].config.size
    corrected = []
    for line in lines:
        match = _BENCHMARK_HEADER.match(line) if isinstance(line, str) else None
        if match is None:
            corrected.append(line)
            continue
        corrected.append(  # one entry: pytest writes the hooks' entries in reverse order
            [
                f"benchmark: {match['version']} (timer={match['timer']}); rounds, warm-up and "
                "iterations are set per case by accelbench, not by pytest-benchmark's defaults:",
                f"  --bench-size {size}: {BUDGETS[size].describe()}",
            ]
        )
    return corrected


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Any:
    """Count the cases that ran to their end: fewer than collected means a partial run."""
    result = yield
    if STATE in item.config.stash:
        item.config.stash[STATE].items_finished += 1
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Any:
    """Before pytest-benchmark compares and saves (in its own sessionfinish): take the
    saved cases that are not like for like out of the comparison, and write the run's
    files atomically, marked partial when the run did not go to its end."""
    config = session.config
    state = config.stash.get(STATE, None)
    bs = internals.session(config)
    if state is not None and bs is not None:
        state.outcome = _outcome(session, state, exitstatus)
        compared = internals.compared_entries(bs)
        if compared:
            current = internals.entries(bs)
            state.no_counterpart = baseline.without_counterpart(compared, current)
            state.not_comparable = baseline.keep_comparable(compared, current)
            if config.getoption("benchmark_compare_fail", None):  # only a gate judges
                state.not_gated = baseline.keep_gate_material(
                    compared, current, bool(config.getoption("gate_smoke", False))
                )
        internals.drop_untimed(bs)
        if state.saves_by_default and not internals.ran_any(bs):
            internals.release_saving(bs)  # nothing to save, and no word about it
        written, state.save_errors = _save(config, bs, session)
        state.saved = [str(p) for p in written]
        if state.save_errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    return (yield)


INTERRUPTED_SAVING = (
    "interrupted while saving: what was not yet saved is not written, and the files it "
    "would have replaced are unchanged"
)


def _save(config: pytest.Config, bs: Any, session: pytest.Session) -> tuple[list[Any], list[str]]:
    """``saving.save_run``; a Ctrl-C during it ends the run as interrupted, with one line,
    and pytest-benchmark is told to write nothing itself."""
    try:
        return saving.save_run(config, bs)
    except KeyboardInterrupt:
        internals.release_json(bs)
        internals.release_saving(bs)
        session.exitstatus = pytest.ExitCode.INTERRUPTED
        return [], [INTERRUPTED_SAVING]


def _outcome(session: pytest.Session, state: SuiteState, exitstatus: int) -> saving.Outcome:
    planned, finished = session.testscollected, state.items_finished
    where = f"after {finished} of {planned} cases"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return saving.Outcome(True, f"interrupted {where}")
    if exitstatus == pytest.ExitCode.INTERNAL_ERROR:
        return saving.Outcome(True, f"the session crashed {where}")
    if finished < planned:
        return saving.Outcome(True, f"stopped {where}")
    return saving.Outcome()


@pytest.hookimpl(wrapper=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> Any:
    """After pytest-benchmark's tables: the accelbench summary.

    pytest-benchmark signals ``--benchmark-compare-fail`` by raising from its own summary,
    which pytest reports as an internal error with a traceback (exit code 3). Here it
    becomes one line and exit code 1, and the summary is still printed.
    """
    regressed = False
    bs = internals.session(config)
    if bs is not None and not _full_output(config):
        internals.hide_tables(bs)
    try:
        result = yield
    except internals.PerformanceRegression:
        regressed, result = True, None
    if STATE in config.stash and launch.current().is_leader:  # rank 0 speaks for a launch
        _write_summary(terminalreporter, config)
    if regressed:
        flagged = _run_conditions(config.stash[STATE])["flags"] if STATE in config.stash else []
        unreliable = (
            f"; unreliable: the run was marked {', '.join(flagged)} (see the warning above)"
            if flagged
            else ""
        )
        terminalreporter.write_line(
            "accelbench: performance regressed beyond --benchmark-compare-fail (see above)"
            + unreliable,
            red=True,
        )
        config.stash[SESSION].exitstatus = pytest.ExitCode.TESTS_FAILED
    return result


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[SESSION] = session


def _full_output(config: pytest.Config) -> bool:
    return bool(config.getoption("bench_tables", False)) or config.option.verbose > 0


def _write_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The run's tables, what was not measured (one line per cause), the comparison and
    where the run was saved, warnings, then the headline: the last thing the suite says."""
    state = config.stash[STATE]
    bs = internals.session(config)
    records, _unusable = parse_entries(internals.entries(bs) if bs is not None else [])
    computed = views.compute_all(records)
    full = _full_output(config)
    shown = computed if full else _brief(computed)
    lines = [text.render_all(shown)]
    left_out = [key for key in BRIEF_LEAVES_OUT if computed.get(key) and key not in shown]
    if left_out:
        lines.append(f"(also measured: {', '.join(left_out)}; shown with -v, and by report)")
    lines += _not_measured_lines(state, full)
    lines += _comparison_lines(state)
    if state.outcome.partial and records:
        where = f"; saved marked partial: {', '.join(state.saved)}" if state.saved else ""
        lines.append(f"partial run: {state.outcome.reason}{where}")
    elif state.saved:
        lines.append(f"saved: {', '.join(state.saved)}")
    body = "\n".join(line for line in lines if line)
    # The short summary has said why each device could not run, just above.
    unusable = {d: sorted(r) for d, r in state.skip_reasons.items()} if full else {}
    headline = text.render_headline(
        computed, [d for d in state.config.devices if d != "cpu"], unusable
    )
    if not full and headline == NO_ACCELERATOR:
        headline += " (the plan at the top says why)"
    if not (body or headline):
        return
    terminalreporter.write_sep("=", "accelbench summary")
    if body:
        terminalreporter.write_line(body)
    for error in state.save_errors:
        terminalreporter.write_line(f"accelbench: {error}", red=True)
    if records:
        for warning in _run_conditions(state)["warnings"]:
            terminalreporter.write_line(_wrap(f"WARNING: {warning}"), yellow=True, bold=True)
    if headline:
        wrapped = "\n".join(_wrap(line, "  ") for line in headline.splitlines())
        terminalreporter.write_line("\n" + wrapped, bold=True)


# Sections of the full summary (-v) only: the speedup table has every framework's figures.
BRIEF_LEAVES_OUT = ("frameworks", "energy")


def _brief(computed: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The sections of the short summary: all but ``BRIEF_LEAVES_OUT``, and scaling only
    where a curve has two lengths or more (a run of single lengths, as quick's, has none)."""
    curves = any(len(row["lengths"]) > 1 for row in computed.get("scaling", []))
    return {
        key: rows
        for key, rows in computed.items()
        if key not in BRIEF_LEAVES_OUT and (key != "scaling" or curves)
    }


NO_ACCELERATOR = "headline: no accelerator was usable, so no speedup"


def _not_measured_lines(state: SuiteState, full: bool) -> list[str]:
    """What was not measured: with -v every reason whole; by default a line per device for
    what cannot run here, and a line per cause naming the cases for the rest."""
    if not state.skipped:
        return []
    count = _cases(len(state.skipped))
    if full:
        counts = Counter(f"{device}: {reason}" for device, _label, reason in state.skipped)
        return [
            f"not measured ({count}):",
            *(_wrap(f"  {r} ({_cases(n)})") for r, n in counts.most_common()),
        ]
    unusable = [device for device, _label, reason in state.skipped if reason in state.unusable]
    others: dict[tuple[str, str], list[str]] = {}
    for device, label, reason in state.skipped:
        if reason not in state.unusable:
            others.setdefault((device, _short(reason)), []).append(label)
    lines = [f"not measured ({count}; every reason in full: -v):"]
    if unusable:
        devices = ", ".join(sorted(set(unusable)))
        said = f"{_cases(len(unusable))}; the plan at the top says why"
        lines.append(f"  cannot run here: {devices} ({said})")
    lines += [
        _wrap(f"  {device}: {cause} ({_cases(len(labels))}: {', '.join(labels)})")
        for (device, cause), labels in others.items()
    ]
    return lines


def _comparison_lines(state: SuiteState) -> list[str]:
    lines = []
    if state.chosen is not None and state.chosen.path is not None:
        lines.append(f"compared with {state.chosen.path} ({state.chosen.why})")
        lines += [f"  {line}" for line in state.chosen.skipped]
    if state.machine_note:
        lines.append(f"note: the baseline's machine differs: {state.machine_note}")
    if state.not_comparable:
        lines.append(
            f"not comparable with the baseline: {len(state.not_comparable)} of its cases differ "
            "in identity, left out of the comparison and of --benchmark-compare-fail:"
        )
        lines += state.not_comparable.lines()
    if state.not_gated:
        lines.append(
            f"not gate material: {len(state.not_gated)} case(s) left out of the comparison "
            "and of --benchmark-compare-fail:"
        )
        lines += state.not_gated.lines()
    if state.no_counterpart:
        lines.append(
            f"no counterpart in the baseline ({len(state.no_counterpart)}), not compared: "
            + ", ".join(state.no_counterpart)
        )
    return lines
