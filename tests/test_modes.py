"""Execution modes: compiled beside eager, channels_last beside NCHW, each its own case.

The harness is tested with a stand-in compiler (its "compilation" logged and slow on the
clock) and with torch.compile's "eager" backend (real dynamo guards and recompiles without
code generation); one subprocess session compiles for real with inductor.
"""

import itertools
import json
import re

import numpy as np
import pytest
import torch

from accelbench.backends.torch.workload import TorchWorkload
from accelbench.core.compiled import (
    MAX_TIMED_RECOMPILES,
    RecompileError,
    RecompileGuard,
    warm_up_compiled,
)
from accelbench.core.sizes import TimingBudget
from accelbench.core.spec import CaseSpec

import clocklog
from clocklog import timed_intervals
from conftest import ROOT, SMOKE, add_benchmarks

USAGE_ERROR = 4
CPU = ("--devices", "cpu")

# Options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--mode", "jit"],
            "ERROR: --mode: unknown value 'jit'; choose from eager, compile, graph",
        ),
        (
            ["--memory-format", "nhwc"],
            "ERROR: --memory-format: unknown value 'nhwc'; choose from nchw, channels_last",
        ),
        (["--batch", "0"], "ERROR: --batch: expected a positive whole number, not '0'"),
        (
            ["--batch", "8", "--sweep", "batch"],
            "ERROR: --batch with --sweep batch: the sweep sets each batch itself; give one",
        ),
    ],
)
def test_unknown_modes_layouts_and_batches_are_usage_errors(suite, args, message):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("--benchmark-only", *args)
    assert result.ret == USAGE_ERROR
    assert result.stderr.lines[0] == message
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_each_mode_layout_and_batch_is_its_own_case_named_in_its_id(suite):
    add_benchmarks(suite, "test_cnn_torch.py", "test_transformer.py")
    args = ["--mode", "eager,COMPILE", "--memory-format", "nchw,channels_last", "--batch", "8"]
    result = suite.runpytest("--collect-only", "-q", *CPU, "-k", "train", *args)
    result.stdout.fnmatch_lines(
        [
            # --batch N is the variant batch=N, the same point as --sweep batch names it
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-batch=8-eager-nchw]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-batch=8-eager-channels_last]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-batch=8-compile-nchw]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-batch=8-compile-channels_last]",
            # the Transformer has no choice of layout: no layout in its id
            "benchmarks/test_transformer.py::test_transformer[cpu-train-batch=8-eager]",
            "benchmarks/test_transformer.py::test_transformer[cpu-train-batch=8-compile]",
            "6/12 tests collected*",
        ]
    )


def test_a_default_run_keeps_the_ids_of_earlier_saved_runs(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("--collect-only", "-q", *CPU)
    result.stdout.fnmatch_lines(
        [
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-infer]",
        ]
    )


def test_workloads_without_a_compiled_form_are_left_out_of_a_compile_only_run(suite):
    add_benchmarks(suite, "test_ceiling.py", "test_cnn_torch.py")
    result = suite.runpytest(
        "--collect-only", "-q", *CPU, "--bench-size", "standard", "--mode", "compile"
    )
    result.stdout.fnmatch_lines(
        [
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-compile]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-infer-compile]",
            "2/4 tests collected*",
        ]
    )


# Identity ----------------------------------------------------------------------------------


def test_mode_layout_and_batch_are_in_the_group_and_the_reference_is_eager_cpu_fp32():
    spec = CaseSpec(
        "torch",
        "resnet18",
        "cuda",
        "train",
        "bf16",
        "full",
        "batch=256",
        "compile",
        "channels_last",
    )
    assert spec.group == "torch resnet18 train batch=256 compile channels_last bf16 full"
    assert CaseSpec("torch", "cnn", "cpu", "infer").group == "torch cnn infer eager fp32 standard"
    reference = spec.reference()
    assert (reference.device, reference.dtype, reference.mode, reference.memory_format) == (
        "cpu",
        "fp32",
        "eager",
        "",
    )
    assert reference.variant == "batch=256"  # the same shapes
    assert (
        spec.needs_parity and CaseSpec("torch", "cnn", "cpu", "infer", mode="compile").needs_parity
    )
    assert not CaseSpec("torch", "cnn", "cpu", "infer").needs_parity


def test_channels_last_puts_model_and_images_in_channels_last_and_says_so_in_shapes():
    from accelbench.backends.torch.devices import get_device
    from accelbench.workloads.cnn import SimpleCNN

    spec = CaseSpec("torch", "cnn", "cpu", "train", size="smoke", memory_format="channels_last")
    workload = SimpleCNN(spec, get_device("cpu"))
    (images,) = workload.inputs
    assert images.is_contiguous(memory_format=torch.channels_last)
    conv = workload.model[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert workload.shapes()["memory_format"] == "channels_last"


# The compilation, timed apart --------------------------------------------------------------

BUDGET = TimingBudget(
    warmup_s=1.0,
    min_warmup_steps=3,
    measure_s=3.0,
    min_rounds=5,
    max_rounds=100,
    block_target_s=0.02,
)


class Ticking:
    """A fake clock that advances by the step durations it is told."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class NoDevice:
    def synchronize(self, result=None) -> None: ...


def test_compile_time_runs_from_the_first_call_to_the_end_of_the_last_compiling_step():
    clock = Ticking()
    durations = iter([30.0, 0.5, 4.0] + [0.25] * 100)  # compile, run, recompile, steady
    compiles = iter([1, 1, 2] + [2] * 100)
    count = [0]

    def step():
        clock.now += next(durations)
        count[0] = next(compiles)

    warmup = warm_up_compiled(step, NoDevice(), BUDGET, lambda: count[0], clock=clock)
    assert warmup.compile_time_s == pytest.approx(34.5)
    assert warmup.compile_steps == 3
    assert warmup.compilations == 2
    assert warmup.step_s == 0.25  # the steady steps only
    assert warmup.steady
    # warm-up went on for its budget (1 s) after the last compilation, with steady steps
    assert warmup.steps == 3 + 4


def test_a_compiler_that_counts_nothing_compiles_at_the_first_call():
    clock = Ticking()
    durations = itertools.chain([12.0], itertools.repeat(0.2))

    def step():
        clock.now += next(durations)

    warmup = warm_up_compiled(step, NoDevice(), BUDGET, lambda: None, clock=clock)
    assert (warmup.compile_time_s, warmup.compile_steps, warmup.compilations) == (12.0, 1, None)


def test_warm_up_of_a_step_that_never_settles_is_bounded():
    clock = Ticking()
    durations = itertools.cycle([0.1, 1.0])  # alternating: never within 1.5x
    warmup = warm_up_compiled(
        lambda: setattr(clock, "now", clock.now + next(durations)),
        NoDevice(),
        BUDGET,
        lambda: 0,
        clock=clock,
    )
    assert not warmup.steady
    assert clock.now <= BUDGET.warmup_s + BUDGET.measure_s + 2 * 1.0


def test_one_recompile_in_the_timed_rounds_is_reported_more_fail_the_case():
    count = [5]
    guard = RecompileGuard(lambda: count[0], "compile on CPU")
    guard()
    count[0] += MAX_TIMED_RECOMPILES
    guard()
    assert guard.count == 1
    count[0] += 1
    with pytest.raises(RecompileError, match="compile on CPU: 2 recompilations during the timed"):
        guard()


class LoggingCompiler:
    """Stands in for torch.compile: the first call of a compiled function 'compiles' (logged
    in clocklog.EVENTS, and 50 ms long); ``scale`` plants a wrong compiled result."""

    compiled_calls = 0

    def __init__(self, function, scale=1.0):
        self.function, self.scale, self.compiled = function, scale, False

    def __call__(self):
        if not self.compiled:
            import time

            clocklog.EVENTS.append("compile")
            time.sleep(0.05)
            self.compiled = True
            LoggingCompiler.compiled_calls += 1
        result = self.function()
        if isinstance(result, tuple):
            return tuple(t * self.scale for t in result)
        return result * self.scale


@pytest.fixture
def logging_compiler(monkeypatch):
    clocklog.EVENTS.clear()
    scale = {"value": 1.0}

    def compile_step(self):
        self.run_forward = LoggingCompiler(self.forward, scale["value"])
        self.run_forward_and_loss = LoggingCompiler(self.forward_and_loss, scale["value"])

    monkeypatch.setattr(TorchWorkload, "compile_step", compile_step)
    monkeypatch.setattr(TorchWorkload, "compilations", lambda self: None)
    monkeypatch.setattr(TorchWorkload, "compile_facts", lambda self: {})
    return scale


def test_compilation_is_saved_and_never_inside_a_timed_round(suite, logging_compiler):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(
        *SMOKE,
        *CPU,
        "--mode",
        "compile",
        "-k",
        "infer",
        "--benchmark-timer",
        "clocklog.clock",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=1)
    events = clocklog.EVENTS
    assert events.count("compile") == 2  # the timed workload, and the one parity checks
    assert "compile" not in events[events.index("clock") :]
    assert all("compile" not in interval for interval in timed_intervals(events))
    (bench,) = json.loads((suite.path / "run.json").read_text())["benchmarks"]
    info = bench["extra_info"]
    assert info["mode"] == "compile"
    assert info["compile_time_s"] >= 0.05
    assert info["compile_steps"] == 1
    assert info["compilations_warmup"] is None  # this compiler counts nothing
    assert info["parity_max_rel_error"] <= info["parity_tolerance"]


def test_a_wrong_compiled_result_fails_parity_against_the_eager_cpu(suite, logging_compiler):
    logging_compiler["value"] = 1.05
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, *CPU, "--mode", "eager,compile")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        ["*ParityError: * [[]compile[]]: output 'output' differs from the CPU by relative error*"]
    )


def test_recompiling_in_the_timed_rounds_fails_the_case_and_saves_no_figure(suite, monkeypatch):
    """A planted guard failure at every call: torch._dynamo recompiles each step."""
    from accelbench.workloads.cnn import SimpleCNN

    monkeypatch.setattr(TorchWorkload, "compile_backend", "eager")  # dynamo, no inductor
    monkeypatch.setattr(torch._dynamo.config, "recompile_limit", 64)
    honest_forward = SimpleCNN.forward

    def planted(self):
        self.calls = getattr(self, "calls", 0) + 1  # an int guarded by value: a new one each call
        return honest_forward(self) + 0 * self.calls

    monkeypatch.setattr(SimpleCNN, "forward", planted)
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(
        *SMOKE, *CPU, "--mode", "compile", "-k", "infer", "--benchmark-json", "run.json"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RecompileError: compile on * recompilations during the timed*"])
    assert json.loads((suite.path / "run.json").read_text())["benchmarks"] == []


def test_torch_compile_on_the_cpu_end_to_end(suite, monkeypatch):
    """Real inductor code generation (gcc), in a subprocess: eager and compiled side by side."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest_subprocess(
        *SMOKE,
        *CPU,
        "--frameworks",
        "torch",
        "--mode",
        "eager,compile",
        "-k",
        "infer",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*execution modes, same device*", "*torch cnn*infer*compile*"])
    saved = json.loads((suite.path / "run.json").read_text())
    by_mode = {b["extra_info"]["mode"]: b for b in saved["benchmarks"]}
    compiled = by_mode["compile"]
    assert compiled["name"] == "test_cnn_torch[cpu-infer-compile]"
    assert compiled["group"] == "torch cnn infer compile fp32 smoke"
    assert compiled["params"]["mode"] == "compile"
    info = compiled["extra_info"]
    assert info["compile_backend"] == "inductor"
    assert info["compile_time_s"] > 0
    assert info["compiled_graphs"] >= 1
    assert info["recompiles_timed"] == 0
    assert info["parity_max_rel_error"] <= info["parity_tolerance"]
    assert "compile_time_s" not in by_mode["eager"]["extra_info"]
    (row,) = [r for r in saved["accelbench"]["modes"] if r["mode"] == "compile"]
    eager_median = by_mode["eager"]["stats"]["median"]
    assert row["compile_over_eager"] == pytest.approx(eager_median / compiled["stats"]["median"])


# Where compiling cannot work: a skip with the reason --------------------------------------


def test_torch_compile_on_a_cpu_without_a_cpp_compiler_skips_saying_so(monkeypatch):
    from torch._inductor import cpp_builder

    from accelbench.backends.torch.devices import get_device
    from accelbench.workloads.cnn import SimpleCNN

    def no_compiler():
        raise RuntimeError("No C++ compiler found")

    monkeypatch.setattr(cpp_builder, "get_cpp_compiler", no_compiler)
    spec = CaseSpec("torch", "cnn", "cpu", "infer", mode="compile")
    assert SimpleCNN.mode_unsupported_reason(spec, get_device("cpu")) == (
        "torch.compile on the CPU needs a C++ compiler (inductor): "
        "RuntimeError: No C++ compiler found"
    )
    assert SimpleCNN.mode_unsupported_reason(CaseSpec("torch", "cnn", "cpu", "infer"), None) is None


def test_tensorflow_compile_on_metal_skips_because_metal_has_no_xla():
    from accelbench.workloads.cnn_tf import TfSimpleCNN

    spec = CaseSpec("tf", "cnn", "mps", "train", mode="compile")
    reason = TfSimpleCNN.mode_unsupported_reason(spec, None)
    assert reason.startswith("Metal has no XLA")
    assert TfSimpleCNN.mode_unsupported_reason(spec.on("cuda"), None) is None


def test_a_compiler_that_fails_on_this_device_skips_the_case_with_its_error(suite, monkeypatch):
    from torch._dynamo.exc import InternalTorchDynamoError

    def failing(self):
        def run():
            raise InternalTorchDynamoError("planted: no kernel for this op on this device")

        self.run_forward = self.run_forward_and_loss = run

    monkeypatch.setattr(TorchWorkload, "compile_step", failing)
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, *CPU, "--mode", "eager,compile", "-k", "infer", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED*compile failed for cnn on * InternalTorchDynamoError: planted: no kernel*",
        ]
    )


# The summary's view ------------------------------------------------------------------------


def run_with(workload, device, median, mode="eager", memory_format="", **extra):
    from fixtures import runs

    r = runs.record(workload, device, "train", median)
    r["extra_info"].update(mode=mode, memory_format=memory_format, **extra)
    return r


def read(entries):
    """Saved entries as the results layer reads them."""
    from accelbench.results.record import parse_entries

    records, problems = parse_entries(entries)
    assert problems == []
    return records


def test_modes_view_gives_compile_over_eager_beside_the_speedup_over_the_cpu():
    from accelbench.results.modes import MODES
    from accelbench.results.speedups import SPEEDUPS

    def mode_rows(records):
        return MODES.saved(MODES.rows(records))

    def speedup_rows(records):
        return SPEEDUPS.saved(SPEEDUPS.rows(records))

    records = read(
        [
            run_with("resnet18", "cpu", 8.0),
            run_with("resnet18", "cpu", 10.0, "compile", compile_time_s=60.0, recompiles_timed=0),
            run_with("resnet18", "cuda", 0.2),
            run_with("resnet18", "cuda", 0.1, "compile", compile_time_s=40.0, recompiles_timed=1),
            run_with("resnet18", "cuda", 0.16, memory_format="channels_last"),
        ]
    )
    rows = {(r["device"], r["mode"], r["memory_format"]): r for r in mode_rows(records)}
    compiled = rows[("cuda", "compile", "")]
    assert compiled["compile_over_eager"] == pytest.approx(2.0)
    assert compiled["speedup_over_cpu"] == pytest.approx(100.0)  # against the compiled CPU
    assert compiled["compile_time_s"] == 40.0
    assert rows[("cpu", "compile", "")]["compile_over_eager"] == pytest.approx(0.8)
    assert rows[("cuda", "eager", "channels_last")]["layout_over_default"] == pytest.approx(1.25)
    assert rows[("cuda", "eager", "")]["speedup_over_cpu"] == pytest.approx(40.0)
    text = MODES.text(MODES.rows(records))
    assert "compile/eager" in text and "layout/nchw" in text
    assert "eager channels_last" in text
    # the speedup table keeps the modes apart: one row per case and mode, eager first
    speedups = [(r["mode"], r["memory_format"], r["speedup"]) for r in speedup_rows(records)]
    assert speedups == [
        ("eager", "", pytest.approx(40.0)),
        ("eager", "channels_last", None),
        ("compile", "", pytest.approx(100.0)),
    ]


def test_runs_saved_before_modes_existed_read_as_eager_and_show_no_modes_view():
    from fixtures import runs

    from accelbench.results.modes import mode_rows
    from accelbench.results.speedups import speedup_rows
    from accelbench.results.views import compute_all

    records = read(
        [runs.record("cnn", "cpu", "train", 0.01), runs.record("cnn", "cuda", "train", 0.001)]
    )
    assert all((r.key.mode, r.key.memory_format) == ("eager", "") for r in records)
    assert mode_rows(records) == []
    assert compute_all(records)["modes"] == []
    (row,) = speedup_rows(records)
    assert (row.key.mode, row.key.memory_format, row.speedup) == ("eager", "", pytest.approx(10.0))


def test_the_report_has_a_mode_column_and_the_compile_times(tmp_path):
    from fixtures.runs import LABELS, saved_run, write

    from accelbench.__main__ import main

    records = [
        run_with("resnet18", "cpu", 8.0),
        run_with("resnet18", "cuda", 0.2),
        run_with("resnet18", "cuda", 0.1, "compile", compile_time_s=42.0, recompiles_timed=0),
    ]
    run = write(tmp_path / "run.json", saved_run(records))
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert f"| train | - | compile | fp32 | smoke | {LABELS['cuda']} | 100 ms |" in markdown
    assert f"| train | - | eager | fp32 | smoke | {LABELS['cuda']} | 200 ms |" in markdown
    assert "execution modes, same device" in markdown
    assert re.search(
        r"torch resnet18 +train +fp32 +cuda +compile +100 ms .* 2\.00x +42 s", markdown
    )


# MLX: mx.compile ---------------------------------------------------------------------------


def mlx_workload(cls, phase, mode="compile", variant=""):
    from accelbench.backends.mlx import devices as mlx_devices

    spec = CaseSpec("mlx", cls.name, "cpu", phase, size="smoke", variant=variant, mode=mode)
    return cls(spec, mlx_devices.get_device("cpu"))


def mlx_parity(workload):
    from accelbench.backends.torch.devices import get_device
    from accelbench.core import parity

    reference_cls, reference_spec = workload.parity_reference(workload.spec)
    assert (reference_spec.framework, reference_spec.mode) == ("torch", "eager")
    expected = reference_cls(reference_spec, get_device("cpu")).parity_outputs()
    return parity.compare(workload.parity_outputs(), expected, workload.spec.dtype)


def test_mlx_compiles_a_training_step_with_model_and_optimizer_state_in_and_out(mlx, monkeypatch):
    from accelbench.workloads.cnn_mlx import MlxSimpleCNN

    calls = []
    real_compile = mlx.compile

    def recording(fn, inputs=None, outputs=None, **kw):
        calls.append((inputs, outputs))
        return real_compile(fn, inputs=inputs, outputs=outputs, **kw)

    monkeypatch.setattr(mlx, "compile", recording)
    workload = mlx_workload(MlxSimpleCNN, "train")
    workload.compile_step()
    ((inputs, outputs),) = calls
    assert inputs is outputs
    model_state, optimizer_state = inputs
    assert model_state is workload.model.state and optimizer_state is workload.optimizer.state
    assert "layers" in optimizer_state  # the momentum buffers exist before the trace
    assert workload.compile_facts() == {"compile_backend": "mx.compile"}
    assert workload.compilations() is None  # MLX does not count them: the first call compiles


def test_a_compiled_mlx_training_step_updates_the_weights_as_the_eager_one_does(mlx):
    from mlx.utils import tree_flatten

    from accelbench.workloads.cnn_mlx import MlxSimpleCNN

    eager, compiled = (mlx_workload(MlxSimpleCNN, "train", mode) for mode in ("eager", "compile"))
    compiled.compile_step()
    weights = {}
    for name, workload in (("eager", eager), ("compile", compiled)):
        for _ in range(2):
            workload.step()
        workload.device.synchronize()
        weights[name] = {k: np.asarray(v) for k, v in tree_flatten(workload.model.parameters())}
    assert weights["compile"].keys() == weights["eager"].keys()
    for key, value in weights["eager"].items():
        np.testing.assert_allclose(weights["compile"][key], value, rtol=1e-4, atol=1e-6)
    initial = mlx_workload(MlxSimpleCNN, "train", "eager")
    changed = [
        k
        for k, v in tree_flatten(initial.model.parameters())
        if not np.allclose(np.asarray(v), weights["compile"][k])
    ]
    assert changed  # the compiled steps wrote their update back


@pytest.mark.parametrize(
    ("workload", "variant", "phase"),
    [("cnn", "", "infer"), ("cnn", "", "train"), ("attention", "naive-L=64", "train")],
)
def test_a_compiled_mlx_case_reproduces_the_eager_pytorch_cpu_and_a_wrong_one_fails(
    mlx, monkeypatch, workload, variant, phase
):
    from mlx.utils import tree_map

    from accelbench.workloads.attention_mlx import MlxAttention
    from accelbench.workloads.cnn_mlx import MlxSimpleCNN

    cls = {"cnn": MlxSimpleCNN, "attention": MlxAttention}[workload]
    honest = mlx_workload(cls, phase, variant=variant)
    honest.compile_step()
    result = mlx_parity(honest)
    assert result.passed, result.errors
    assert "output" in result.errors

    real_compile = mlx.compile

    def wrong(fn, **kw):  # a compiler whose code computes 5% off
        compiled = real_compile(fn, **kw)
        return lambda: tree_map(lambda a: a * 1.05, compiled())

    monkeypatch.setattr(mlx, "compile", wrong)
    planted = mlx_workload(cls, phase, variant=variant)
    planted.compile_step()
    assert not mlx_parity(planted).passed  # parity ran the compiled code


def test_mlx_compile_in_a_whole_session_times_the_compilation_apart_and_passes_parity(suite, mlx):
    add_benchmarks(suite, "test_cnn_mlx.py", "test_ceiling_mlx.py")
    result = suite.runpytest(
        *SMOKE,
        *CPU,
        "--frameworks",
        "mlx",
        "--mode",
        "compile",
        "-k",
        "infer",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=1)  # the ceilings have no compiled form: left out
    (bench,) = json.loads((suite.path / "run.json").read_text())["benchmarks"]
    assert bench["name"] == "test_cnn_mlx[cpu-infer-compile]"
    info = bench["extra_info"]
    assert (info["framework"], info["mode"], info["compile_backend"]) == (
        "mlx",
        "compile",
        "mx.compile",
    )
    assert info["compile_time_s"] > 0 and info["compile_steps"] == 1
    assert info["compilations_warmup"] is None and info["recompiles_timed"] is None
    assert info["parity_reference"] == "torch cpu fp32"
    assert info["parity_max_rel_error"] <= info["parity_tolerance"]
