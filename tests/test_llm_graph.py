"""The language model's graph mode: the step captured once as a CUDA graph and replayed.

CUDA graphs cannot be captured on this machine, so the capture is tested against a stand-in
of ``torch.cuda`` that logs what is asked of it, and whole sessions run with a stand-in
graph that has a graph's contract (the outputs are the tensors the capture returned; each
replay rewrites them) on the fake MPS device.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
import torch

from accelbench.backends.torch.cuda_graph import WARMUP_CALLS, CapturedCall, is_capture_failure
from accelbench.backends.torch.devices import get_device
from accelbench.core.spec import CaseSpec
from accelbench.results.formats import format_speedup_short
from accelbench.workloads import llm
from accelbench.workloads.llm import LanguageModel

from conftest import SMOKE, add_benchmarks

SMOKE_SIZE = LanguageModel.SIZES["smoke"]
PROMPT = SMOKE_SIZE.contexts[0]
N = SMOKE_SIZE.generate


# The capture ------------------------------------------------------------------------------


class LoggedCuda:
    """What CapturedCall uses of ``torch.cuda``, logging each use into ``log``."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.stream_in_use = "default"
        cuda = self

        class Stream:
            def wait_stream(self, other) -> None:
                cuda.log.append("wait")

        class CUDAGraph:
            def replay(self) -> None:
                cuda.log.append("replay")

        self.Stream = Stream
        self.CUDAGraph = CUDAGraph

    def current_stream(self):
        return self.Stream()

    @contextmanager
    def stream(self, side):
        self.stream_in_use = "side"
        yield
        self.stream_in_use = "default"

    @contextmanager
    def graph(self, graph):
        self.log.append("capture begins")
        yield
        self.log.append("capture ends")


def test_a_call_is_warmed_up_on_a_side_stream_captured_once_and_then_only_replayed():
    cuda = LoggedCuda()
    output = torch.zeros(2)

    def fn():
        cuda.log.append(f"call on {cuda.stream_in_use} stream")
        return output

    captured = CapturedCall(fn, cuda=cuda)
    assert captured() is output
    assert captured() is output
    warmup = ["call on side stream"] * WARMUP_CALLS
    assert cuda.log == [
        "wait",
        *warmup,
        "wait",
        "capture begins",
        "call on default stream",
        "capture ends",
        "replay",
        "replay",
    ]
    assert captured.captures == 1


def test_a_capture_failure_is_told_apart_from_other_errors():
    assert is_capture_failure(RuntimeError("operation not permitted when stream is capturing"))
    assert not is_capture_failure(RuntimeError("CUDA out of memory"))
    assert not is_capture_failure(ValueError("capture"))


# What a step is in graph mode ---------------------------------------------------------------


def graph_case(phase="tg", device="cpu"):
    spec = CaseSpec("torch", "llm", device, phase, "fp32", "smoke", f"ctx-L={PROMPT}", "graph")
    return LanguageModel(spec, get_device(device))


def eager_case(phase="tg"):
    spec = CaseSpec("torch", "llm", "cpu", phase, "fp32", "smoke", f"ctx-L={PROMPT}")
    return LanguageModel(spec, get_device("cpu"))


def test_a_graph_tg_step_is_a_whole_round_with_the_rounds_tokens_flops_and_bytes():
    graph, eager = graph_case(), eager_case()
    assert eager.items_per_step == 1 and eager.steps_per_round() == N
    assert graph.items_per_step == N
    assert graph.steps_per_round() is None  # one replay per step: rounds calibrated as usual
    assert graph.bytes_per_step() == pytest.approx(N * eager.bytes_per_step(), abs=N)
    assert graph.flops_per_step() == pytest.approx(N * eager.flops_per_step(), abs=N)


def test_a_graph_pp_step_is_the_same_prompt_pass_as_eager():
    graph, eager = graph_case("pp"), eager_case("pp")
    assert graph.items_per_step == eager.items_per_step == PROMPT
    assert graph.flops_per_step() == eager.flops_per_step()
    assert graph.steps_per_round() is None


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_graph_mode_is_refused_off_cuda_with_the_reason(device):
    spec = CaseSpec("torch", "llm", device, "tg", "fp32", "smoke", f"ctx-L={PROMPT}", "graph")
    reason = LanguageModel.mode_unsupported_reason(spec, None)
    assert reason == (
        f"graph mode replays CUDA graphs, which PyTorch captures on CUDA only (not on {device})"
    )
    assert LanguageModel.mode_unsupported_reason(spec.on("cuda"), None) is None


def test_only_the_pytorch_language_model_has_a_graph_mode():
    from accelbench.workloads.cnn import SimpleCNN
    from accelbench.workloads.llm_mlx import MlxLanguageModel

    assert "graph" in LanguageModel.modes
    assert "graph" not in MlxLanguageModel.modes
    assert "graph" not in SimpleCNN.modes


# Whole sessions -----------------------------------------------------------------------------


def _tensors(output):
    return output if isinstance(output, tuple) else (output,)


class ReplayedEagerly(CapturedCall):
    """A CUDA graph's contract on any device: capture calls ``fn`` once and keeps what it
    returned; every replay calls it again and writes the results into those same tensors."""

    def capture(self) -> None:
        with torch.inference_mode():
            self.output = self.fn()
        self.graph = self
        self.captures += 1

    def replay(self) -> None:
        with torch.inference_mode():
            for kept, fresh in zip(_tensors(self.output), _tensors(self.fn()), strict=True):
                kept.copy_(fresh)


@pytest.fixture
def replayed_on_fake_mps(fake_mps, monkeypatch):
    monkeypatch.setattr(llm, "CapturedCall", ReplayedEagerly)
    allowed = LanguageModel.mode_unsupported_reason.__func__

    def on_mps_too(cls, spec, device):
        return allowed(cls, spec.on("cuda") if spec.device == "mps" else spec, device)

    monkeypatch.setattr(LanguageModel, "mode_unsupported_reason", classmethod(on_mps_too))


def test_a_graph_session_times_whole_rounds_and_reports_time_per_token(suite, replayed_on_fake_mps):
    add_benchmarks(suite, "test_llm.py")
    args = (*SMOKE, "--devices", "cpu,mps", "--mode", "eager,graph", "-k", f"tg and {PROMPT}")
    result = suite.runpytest(*args, "--benchmark-json", "run.json")
    result.assert_outcomes(passed=3, skipped=1)  # the CPU's graph case skips
    result.stdout.fnmatch_lines(
        [f"tg{N} @ d{PROMPT} *eager *tokens/s*", f"tg{N} @ d{PROMPT} *graph *tokens/s*"]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    cases = {(b["extra_info"]["device"], b["extra_info"]["mode"]): b for b in saved["benchmarks"]}
    graph, eager = cases[("mps", "graph")]["extra_info"], cases[("mps", "eager")]["extra_info"]
    assert graph["items_per_step"] == N and eager["items_per_step"] == 1
    assert graph["parity_tokens"]["steps"] == graph["parity_tokens"]["agreed"]
    assert graph["compile_backend"] == "cuda_graph"
    assert graph["compile_time_s"] > 0 and graph["recompiles_timed"] == 0
    rows = {r["mode"]: r for r in saved["accelbench"]["llm"] if r["device"] == "mps"}
    median = cases[("mps", "graph")]["stats"]["median"]
    assert rows["graph"]["time_per_token_s"] == pytest.approx(median / N)
    assert rows["graph"]["test"] == rows["eager"]["test"] == f"tg{N} @ d{PROMPT}"
    modes = {r["mode"]: r for r in saved["accelbench"]["modes"] if r["device"] == "mps"}
    eager_median = cases[("mps", "eager")]["stats"]["median"]
    per_token = eager_median / (median / N)  # graph over eager, token for token
    assert modes["graph"]["compile_over_eager"] == pytest.approx(per_token)
    cpu_median = cases[("cpu", "eager")]["stats"]["median"]  # the CPU runs eagerly only
    assert rows["graph"]["speedup_over_cpu"] == pytest.approx(cpu_median / (median / N))
    assert rows["eager"]["speedup_over_cpu"] == pytest.approx(cpu_median / eager_median)
    headline = result.stdout.str().split("headline: ")[1:]
    assert headline[0].startswith("speedup over the CPU")  # eager beside eager, as always
    assert headline[1].startswith("the language model replayed as graphs")
    expected = f"torch llm tg{N} @ d{PROMPT} fp32 smoke graph  mps "
    assert expected + format_speedup_short(rows["graph"]["speedup_over_cpu"]) in headline[1]


def test_parity_checks_what_the_replayed_graph_computed(suite, replayed_on_fake_mps, monkeypatch):
    honest = ReplayedEagerly.replay

    def off_by_one_token(self):
        honest(self)
        kept = _tensors(self.output)
        if len(kept) == 2:  # the greedy parity decode: (tokens, logits)
            kept[0][:, 1:] += 1

    monkeypatch.setattr(ReplayedEagerly, "replay", off_by_one_token)
    add_benchmarks(suite, "test_llm.py")
    selected = ("-k", "tg and not w4 and not w8")  # the unquantized model's contexts
    result = suite.runpytest(*SMOKE, "--devices", "mps", "--mode", "graph", *selected)
    result.assert_outcomes(failed=len(SMOKE_SIZE.contexts))
    result.stdout.fnmatch_lines(["*ParityError: Fake M4 GPU (MPS) [[]graph[]]: generated token 1*"])


def test_graph_cases_on_the_cpu_skip_with_the_reason_and_others_run(suite):
    add_benchmarks(suite, "test_llm.py", "test_cnn_torch.py")
    args = (*SMOKE, "--devices", "cpu", "--mode", "eager,graph", "--frameworks", "torch", "-rs")
    result = suite.runpytest(*args, "-k", f"{PROMPT} or (cnn and infer)")
    outcomes = result.parseoutcomes()
    assert outcomes["skipped"] == 2  # pp and tg of the one context, graph mode
    assert outcomes["passed"] == 3  # pp, tg eager; the CNN's eager infer (no graph mode)
    result.stdout.fnmatch_lines(["*graph mode replays CUDA graphs*(not on cpu)*"])
