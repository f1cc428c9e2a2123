"""The pytest plugin: options, parametrization, the ``measure`` fixture and
pytest-benchmark hooks (machine info, saved JSON, end-of-run summary).

This is the only module that imports pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_benchmark.session import PerformanceRegression

from accelbench import backends, summary
from accelbench.config import OptionError, SuiteConfig, parse_list
from accelbench.core import machine
from accelbench.core.runner import CaseSkipped, run_case
from accelbench.core.sizes import DEFAULT_PROFILE, PROFILES
from accelbench.core.spec import DTYPES, EAGER, MEMORY_FORMATS, MODES, NCHW, CaseSpec


@dataclass
class SuiteState:
    config: SuiteConfig
    records: list[dict[str, Any]] = field(default_factory=list)
    skip_reasons: dict[str, set[str]] = field(default_factory=dict)


STATE = pytest.StashKey[SuiteState]()
BASELINE_FOUND = pytest.StashKey[bool]()
SESSION = pytest.StashKey[pytest.Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
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
        "--mode",
        default=EAGER,
        help=f"Comma-separated execution modes: {', '.join(MODES)} (torch.compile, TensorFlow's "
        "XLA, mx.compile); each is its own case. Default: %(default)r",
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
        "(recorded in the case's id as batch=N). Default: the profile's",
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
            config.getoption("mode"),
            config.getoption("memory_format"),
            config.getoption("batch"),
        )
    except OptionError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[STATE] = SuiteState(suite)
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
    # Modes, layouts and a batch override are named in a case's id only when asked for, so
    # the ids of a default run stay those of earlier saved runs.
    modes = [m for m in suite.modes if m in workload_cls.modes]
    if modes and suite.modes != (EAGER,):
        metafunc.parametrize("mode", modes)
    formats = [f for f in suite.memory_formats if f in workload_cls.memory_formats]
    if formats and suite.memory_formats != (NCHW,):
        values = ["" if f == NCHW else f for f in formats]  # the default layout is ""
        metafunc.parametrize("memory_format", values, ids=formats)
    if suite.batch is not None and workload_cls.has_batch():
        metafunc.parametrize("batch_override", [str(suite.batch)], ids=[f"batch={suite.batch}"])


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
def batch_override() -> str:
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
    batch_override: str,
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
        batch=batch_override,
    )

    def run() -> dict[str, Any]:
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
        frameworks = parse_list("--frameworks", config.getoption("frameworks"), backends.names())
    except OptionError:
        frameworks = ()
    machine_info["accelbench"] = machine.collect(frameworks)


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
    output_json["accelbench"] = summary.compute_all(output_json.get("benchmarks", []))


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
        terminalreporter.write_line(
            "accelbench: performance regressed beyond --benchmark-compare-fail (see above)",
            red=True,
        )
        config.stash[SESSION].exitstatus = pytest.ExitCode.TESTS_FAILED
    return result


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[SESSION] = session


def _write_summary(terminalreporter: Any, state: SuiteState) -> None:
    text = summary.render_all(summary.compute_all(state.records))
    skipped = [
        f"  {device}: {reason}"
        for device, reasons in sorted(state.skip_reasons.items())
        for reason in sorted(reasons)
    ]
    if skipped:
        text = "\n".join(filter(None, [text, "not measured (skipped cases):", *skipped]))
    if text:
        terminalreporter.write_sep("=", "accelbench summary")
        terminalreporter.write_line(text)
