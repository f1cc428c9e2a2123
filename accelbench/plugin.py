"""The pytest plugin: options, parametrization, the ``measure`` fixture and
pytest-benchmark hooks (machine info, saved JSON, end-of-run summary).

This is the only module that imports pytest, with ``accelbench.ddp_plugin`` (loaded from
here): the hooks for the ranks of a torchrun launch.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from accelbench import backends
from accelbench import benchmark_internals as internals
from accelbench.config import OptionError, SuiteConfig, parse_list
from accelbench.core import conditions, launch, machine, openmp, stability
from accelbench.core.runner import CaseSkipped, run_case
from accelbench.core.sizes import BUDGETS, DEFAULT_PROFILE, PROFILES
from accelbench.core.spec import DTYPES, EAGER, MEMORY_FORMATS, MODES, NCHW, CaseSpec
from accelbench.core.sweep import DEFAULT_SWEEP, SWEEPS, case_variants
from accelbench.results import baseline, files, saving, text, views
from accelbench.results.record import parse_entries
from accelbench.results.runs import RESULTS_FORMAT, RunError


@dataclass
class SuiteState:
    config: SuiteConfig
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
        "--cooldown",
        default="0",
        metavar="SECONDS",
        help="Sleep this long before each case, so heat and other load can settle. "
        "Default: %(default)r",
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
        )
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    openmp.prefer_passive_wait()  # before any framework loads OpenMP (at collection)
    state = config.stash[STATE] = SuiteState(suite, run_watch=conditions.RunWatch(suite.cooldown_s))
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
        values = ["" if f == NCHW else f for f in formats]  # the default layout is ""
        metafunc.parametrize("memory_format", values, ids=formats)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the cases of frameworks not asked for with ``--frameworks``, and workloads
    that have none of the ``--mode`` modes (the ceilings have no compiled form)."""
    suite = config.stash[STATE].config
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("workload")
        wanted = marker is None or (
            marker.args[0].framework in suite.frameworks
            and any(m in marker.args[0].modes for m in suite.modes)
        )
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
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
    spec = CaseSpec(
        framework=workload_cls.framework,
        workload=workload_cls.name,
        device=device,
        phase=phase,
        dtype=state.config.dtype,
        size=state.config.size,
        variant=variant,
        mode=mode,
        memory_format=memory_format,
    )

    def run() -> dict[str, Any]:
        if state.config.cooldown_s and not benchmark.disabled:
            time.sleep(state.config.cooldown_s)
        if state.run_watch is not None:
            state.run_watch.case_starts()
        try:
            runner = getattr(workload_cls, "runner", run_case)  # DDP cases bring their own
            info = runner(benchmark, workload_cls, spec)
        except CaseSkipped as exc:
            state.skip_reasons.setdefault(device, set()).add(str(exc))
            pytest.skip(str(exc))
        if isinstance(info.get("conditions"), dict):
            state.case_conditions.append(info["conditions"])
        if not benchmark.disabled and getattr(benchmark, "stats", None) is not None:
            stability.mark(info, benchmark.stats.stats.data)
        info.update(openmp.facts())
        benchmark.extra_info.update(info)
        return info

    return run


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """machine_info, which pytest-benchmark compares between runs, gets only what identifies
    the machine; the CPU's clock of the moment (py-cpuinfo's ``hz_actual``) is left out."""
    cpu = machine_info.get("cpu")
    if isinstance(cpu, dict):
        for volatile in ("hz_actual", "hz_actual_friendly"):
            cpu.pop(volatile, None)
    machine_info["accelbench"] = machine.machine_facts()


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
        "environment": machine.run_facts(_frameworks(config)),
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
        written, state.save_errors = saving.save_run(config, bs)
        state.saved = [str(p) for p in written]
        if state.save_errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    return (yield)


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


def _write_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash[STATE]
    bs = internals.session(config)
    records, _unusable = parse_entries(internals.entries(bs) if bs is not None else [])
    computed = views.compute_all(records)
    lines = [text.render_all(computed)]
    skipped = [
        f"  {device}: {reason}"
        for device, reasons in sorted(state.skip_reasons.items())
        for reason in sorted(reasons)
    ]
    if skipped:
        lines += ["not measured (skipped cases):", *skipped]
    lines += _comparison_lines(state)
    if state.outcome.partial and records:
        where = f"; saved marked partial: {', '.join(state.saved)}" if state.saved else ""
        lines.append(f"partial run: {state.outcome.reason}{where}")
    body = "\n".join(line for line in lines if line)
    if body:
        terminalreporter.write_sep("=", "accelbench summary")
        if records:
            for warning in _run_conditions(state)["warnings"]:
                terminalreporter.write_line(f"WARNING: {warning}", yellow=True, bold=True)
        headline = text.render_headline(
            computed,
            [d for d in state.config.devices if d != "cpu"],
            {device: sorted(reasons) for device, reasons in state.skip_reasons.items()},
        )
        if headline:
            terminalreporter.write_line(headline + "\n", bold=True)
        terminalreporter.write_line(body)
    for error in state.save_errors:
        terminalreporter.write_line(f"accelbench: {error}", red=True)


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
