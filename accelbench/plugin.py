"""The pytest plugin: options, parametrization, the ``measure`` fixture and
pytest-benchmark hooks (machine info, saved JSON, end-of-run summary).

This is the only module that imports pytest.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_benchmark.session import PerformanceRegression

from accelbench import conditions, environment, summary
from accelbench.config import OptionError, SuiteConfig, parse_list
from accelbench.runner import CaseSkipped, run_case
from accelbench.sizes import BUDGETS, DEFAULT_PROFILE, PROFILES
from accelbench.spec import DEVICE_NAMES, DTYPES, FRAMEWORKS, CaseSpec


@dataclass
class SuiteState:
    config: SuiteConfig
    records: list[dict[str, Any]] = field(default_factory=list)
    skip_reasons: dict[str, set[str]] = field(default_factory=dict)
    run_watch: conditions.RunWatch | None = None
    run_conditions: dict[str, Any] | None = None


STATE = pytest.StashKey[SuiteState]()
BASELINE_FOUND = pytest.StashKey[bool]()
SESSION = pytest.StashKey[pytest.Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("accelbench", "accelbench: CPU vs GPU benchmarks")
    group.addoption(
        "--devices",
        default=",".join(DEVICE_NAMES),
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
        default=",".join(FRAMEWORKS),
        help="Comma-separated frameworks to benchmark. Default: %(default)r",
    )
    group.addoption(
        "--cooldown",
        default="0",
        metavar="SECONDS",
        help="Sleep this long before each case, so heat and other load can settle. "
        "Default: %(default)r",
    )


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Validate the options once; refuse a ``--benchmark-compare`` that would compare nothing.

    Runs after pytest-benchmark's own configure, which looks for the saved run to compare
    with and calls ``pytest_benchmark_compare_machine_info`` when it finds one.
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
            config.getoption("cooldown"),
        )
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[STATE] = SuiteState(suite, run_watch=conditions.RunWatch(suite.cooldown_s))
    if not config.getoption("benchmark_compare", None):
        return
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS:
        raise pytest.UsageError(
            "--benchmark-compare compares benchmark runs; type: "
            "pytest benchmarks --benchmark-only --benchmark-compare"
        )
    if not config.stash.get(BASELINE_FOUND, False):
        raise pytest.UsageError(
            "--benchmark-compare: no saved run to compare with for this machine; "
            "save one first with: pytest benchmarks --benchmark-only --benchmark-autosave"
        )


def pytest_benchmark_compare_machine_info(config: pytest.Config) -> None:
    config.stash[BASELINE_FOUND] = True


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("workload")
    if marker is None:
        return
    workload_cls = marker.args[0]
    suite = metafunc.config.stash[STATE].config
    metafunc.parametrize("device", suite.devices)
    metafunc.parametrize("phase", workload_cls.phases)
    variants = workload_cls.variants(suite.size)
    if variants != [""]:
        metafunc.parametrize("variant", variants)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the cases of frameworks not asked for with ``--frameworks``."""
    frameworks = config.stash[STATE].config.frameworks
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("workload")
        wanted = marker is None or marker.args[0].framework in frameworks
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def variant() -> str:
    return ""


@pytest.fixture
def measure(
    request: pytest.FixtureRequest, benchmark: Any, device: str, phase: str, variant: str
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
    )

    def run() -> dict[str, Any]:
        if state.config.cooldown_s and not benchmark.disabled:
            time.sleep(state.config.cooldown_s)
        if state.run_watch is not None:
            state.run_watch.case_starts()
        try:
            info = run_case(benchmark, workload_cls, spec)
        except CaseSkipped as exc:
            state.skip_reasons.setdefault(device, set()).add(str(exc))
            pytest.skip(str(exc))
        benchmark.extra_info.update(info)
        if benchmark.stats is not None:
            state.records.append(benchmark.stats.as_dict(include_data=False))
        return info

    return run


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Called by pytest-benchmark's own configure too, before this plugin's: read the option."""
    try:
        frameworks = parse_list("--frameworks", config.getoption("frameworks"), FRAMEWORKS)
    except OptionError:
        frameworks = ()
    machine_info["accelbench"] = environment.collect(frameworks)


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
    output_json["accelbench"] = summary.compute_all(output_json.get("benchmarks", []))
    if STATE in config.stash:
        output_json["accelbench"]["conditions"] = _run_conditions(config.stash[STATE])


def _run_conditions(state: SuiteState) -> dict[str, Any]:
    """The run's conditions, summarised once from its cases (saved JSON and terminal agree)."""
    if state.run_conditions is None:
        watch = state.run_watch or conditions.RunWatch(state.config.cooldown_s)
        state.run_conditions = watch.summary(
            r["extra_info"].get("conditions") for r in summary.measured(state.records)
        )
    return state.run_conditions


_BENCHMARK_HEADER = re.compile(r"^benchmark: (?P<version>\S+) \(defaults: timer=(?P<timer>\S+) ")


@pytest.hookimpl(wrapper=True)
def pytest_report_header(config: pytest.Config) -> Any:
    """pytest-benchmark's header lists its own defaults (``min_rounds=5 ... warmup=False``),
    which this suite's benchmarks do not use: say what they do instead."""
    lines = yield
    if STATE not in config.stash:
        return lines
    budget = BUDGETS[config.stash[STATE].config.size]
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
                f"  --bench-size {config.stash[STATE].config.size}: {budget.describe()}",
            ]
        )
    return corrected


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
    except PerformanceRegression:
        regressed, result = True, None
    if STATE in config.stash:
        _write_summary(terminalreporter, config.stash[STATE])
    if regressed:
        busy = STATE in config.stash and _run_conditions(config.stash[STATE])["flags"]
        unreliable = (
            f"; unreliable: the run was marked {', '.join(busy)} (see the warning above)"
            if busy
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


def _write_summary(terminalreporter: Any, state: SuiteState) -> None:
    computed = summary.compute_all(state.records)
    text = summary.render_all(computed)
    skipped = [
        f"  {device}: {reason}"
        for device, reasons in sorted(state.skip_reasons.items())
        for reason in sorted(reasons)
    ]
    if skipped:
        text = "\n".join(filter(None, [text, "not measured (skipped cases):", *skipped]))
    if not text:
        return
    terminalreporter.write_sep("=", "accelbench summary")
    if state.records:
        for line in _run_conditions(state)["warnings"]:
            terminalreporter.write_line(f"WARNING: {line}", yellow=True, bold=True)
    headline = summary.render_headline(
        computed["speedups"],
        [d for d in state.config.devices if d != "cpu"],
        {device: sorted(reasons) for device, reasons in state.skip_reasons.items()},
    )
    if headline:
        terminalreporter.write_line(headline + "\n", bold=True)
    terminalreporter.write_line(text)
