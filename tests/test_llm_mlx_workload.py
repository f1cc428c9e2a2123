"""The language model in MLX: the PyTorch workload's weights, prompt and figures; parity with
the PyTorch CPU on pp and tg (and a wrong token fails it); timed rounds that decode the same
positions; the memory check before anything is drawn; whole sessions with ``--frameworks``.

Everything runs on MLX's CPU, at the smoke size.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from accelbench.backends.mlx import devices as mlx_devices
from accelbench.backends.torch.devices import get_device as torch_device
from accelbench.core.measure import SynchronizedBlocks
from accelbench.core.parity import GENERATED_TOKENS, TOLERANCES, ParityError, check, compare
from accelbench.core.spec import CaseSpec
from accelbench.workloads import llm_mlx
from accelbench.workloads.llm import LanguageModel
from accelbench.workloads.llm_mlx import MlxLanguageModel
from accelbench.workloads.llm_model import forward_flops

from conftest import SMOKE, add_benchmarks

SMOKE_SIZE = LanguageModel.SIZES["smoke"]
PROMPT = SMOKE_SIZE.contexts[0]  # the shortest: the fastest cases
N = SMOKE_SIZE.generate
SMOKE_CASES = 2 * len(LanguageModel.variants("smoke")) * 2  # frameworks x variants x phases

pytestmark = pytest.mark.usefixtures("mlx")  # skips with MLX's import error where it has one


def case(framework: str, phase: str, dtype: str = "fp32") -> CaseSpec:
    return CaseSpec(framework, "llm", "cpu", phase, dtype, "smoke", f"ctx-L={PROMPT}")


def make(phase: str = "tg", dtype: str = "fp32") -> MlxLanguageModel:
    return MlxLanguageModel(case("mlx", phase, dtype), mlx_devices.get_device("cpu"))


def torch_twin(phase: str = "tg", dtype: str = "fp32") -> LanguageModel:
    return LanguageModel(case("torch", phase, dtype), torch_device("cpu"))


def as_numpy(array) -> np.ndarray:
    import mlx.core as mx

    return np.asarray(array.astype(mx.float32))


class LoggedModel:
    """The workload's model, logging the position every forward pass starts at."""

    def __init__(self, model) -> None:
        self.model = model
        self.positions: list[int] = []

    def __call__(self, tokens, start, cache, rows=None):
        self.positions.append(start)
        return self.model(tokens, start, cache, rows)

    def __getattr__(self, name):
        return getattr(self.model, name)


# The same model ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_every_weight_is_the_pytorch_models_in_the_runs_dtype(dtype, mlx):
    mlx_weights = make("pp", dtype).model.weights
    torch_weights = dict(torch_twin("pp", dtype).model.named_parameters())
    assert set(mlx_weights) == set(torch_weights)
    for name, tensor in torch_weights.items():
        assert np.array_equal(as_numpy(mlx_weights[name]), tensor.float().numpy()), name
    stored = {"fp32": mlx.float32, "bf16": mlx.bfloat16}[dtype]
    assert {weight.dtype for weight in mlx_weights.values()} == {stored}


def test_the_prompt_and_the_forced_tokens_are_the_pytorch_workloads():
    mine, theirs = make("tg"), torch_twin("tg")
    assert np.array_equal(np.asarray(mine.prompt), theirs.prompt.numpy())
    assert np.array_equal(np.asarray(mine.forced), theirs.forced.numpy())
    assert mine.first_token.item() == theirs.first_token.item()


@pytest.mark.parametrize("phase", ["pp", "tg"])
def test_items_flops_bytes_and_shapes_are_the_pytorch_workloads(phase):
    for dtype in ("fp32", "bf16"):
        mine, theirs = make(phase, dtype), torch_twin(phase, dtype)
        assert mine.items_per_step == theirs.items_per_step
        assert mine.flops_per_step() == theirs.flops_per_step()
        assert mine.bytes_per_step() == theirs.bytes_per_step()
        assert mine.shapes() == theirs.shapes()
        assert mine.steps_per_round() == theirs.steps_per_round()
        assert mine.dtype_ran() == dtype
    assert make("pp").flops_per_step() == forward_flops(SMOKE_SIZE, 0, PROMPT)


# Parity with the PyTorch CPU ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("phase", ["pp", "tg"])
def test_mlx_reproduces_the_pytorch_cpu_on_prompt_logits_and_generated_tokens(phase, dtype):
    workload = make(phase, dtype)
    reference_cls, reference_spec = workload.parity_reference(workload.spec)
    assert (reference_cls, reference_spec) == (LanguageModel, case("torch", phase))
    expected = reference_cls(reference_spec, torch_device("cpu")).parity_outputs()
    actual = workload.parity_outputs()
    assert set(actual) == set(expected)
    result = compare(actual, expected, dtype)
    assert result.passed, result
    assert result.max_error <= (1e-5 if dtype == "fp32" else TOLERANCES[dtype])
    if phase == "tg":
        assert result.tokens.steps == SMOKE_SIZE.parity_tokens + 1
        assert result.tokens.agreed == result.tokens.steps  # smoke's tokens agree in both dtypes
        assert np.array_equal(actual[GENERATED_TOKENS], expected[GENERATED_TOKENS])


def test_a_generated_token_off_by_one_fails_parity_naming_the_token(monkeypatch):
    honest = MlxLanguageModel.generate_token

    def planted(self):
        self.token = (honest(self) + 1) % self.size.vocab
        return self.token

    monkeypatch.setattr(MlxLanguageModel, "generate_token", planted)
    expected = torch_twin().parity_outputs()
    result = compare(make().parity_outputs(), expected, "fp32")
    assert result.tokens.agreed == 1
    with pytest.raises(ParityError, match=r"MLX CPU: generated token 1 is \d+ where the CPU"):
        check(result, "MLX CPU")


# Rounds -------------------------------------------------------------------------------------


def test_every_timed_round_decodes_the_same_positions_and_tokens():
    workload = make()
    model = workload.model = LoggedModel(workload.model)
    for _ in range(5):  # warm-up leaves the position mid-round
        workload.step()
    device = mlx_devices.get_device("cpu")
    blocks = SynchronizedBlocks(
        workload.step, device, workload.steps_per_round(), round_start=workload.round_start
    )
    tokens = []
    for _ in range(3):
        for _ in range(N):
            blocks()
        tokens.append(workload.token.item())
    rounds = [model.positions[5 + i * N : 5 + (i + 1) * N] for i in range(3)]
    assert rounds == [list(range(PROMPT, PROMPT + N))] * 3
    assert tokens[0] == tokens[1] == tokens[2]
    assert max(model.positions) == PROMPT + N - 1 == workload.cache.capacity - 1


def test_a_model_that_cannot_fit_is_refused_before_its_weights_are_drawn(monkeypatch):
    device_type = type(mlx_devices.get_device("cpu"))
    monkeypatch.setattr(device_type, "memory_available_bytes", lambda self: 2**10)
    monkeypatch.setattr(llm_mlx, "mlx_weights", lambda *a: pytest.fail("weights drawn"))
    with pytest.raises(
        MemoryError,
        match=rf"llm ctx-L={PROMPT} \(0\.164M parameters, bf16\) needs about 0\.0 GiB; "
        r"0\.0 GiB of host memory",
    ):
        make(dtype="bf16")


# Sessions -----------------------------------------------------------------------------------


def test_a_smoke_session_of_mlx_alone_measures_pp_and_tg_in_tokens_per_s(suite):
    add_benchmarks(suite, "test_llm.py", "test_llm_mlx.py")
    args = ("--devices", "cpu", "--frameworks", "mlx", "-k", str(PROMPT))
    result = suite.runpytest(*SMOKE, *args, "--benchmark-json", "run.json")
    result.assert_outcomes(passed=2, deselected=SMOKE_CASES - 2)
    result.stdout.fnmatch_lines(
        [
            "*language model at batch 1*",
            f"pp{PROMPT} *mlx*fp32*smoke*cpu*tokens/s*",
            f"tg{N} @ d{PROMPT} *mlx*fp32*smoke*cpu*tokens/s*",
        ]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    cases = {b["extra_info"]["phase"]: b for b in saved["benchmarks"]}
    for phase, bench in cases.items():
        info = bench["extra_info"]
        assert (info["framework"], info["variant"]) == ("mlx", f"ctx-L={PROMPT}")
        assert info["item_unit"] == "tokens" and info["throughput_per_s"] > 0
        assert info["parity_reference"] == "torch cpu fp32"
        assert info["parity_max_rel_error"] <= 1e-5
        assert info["flops_per_step"] == torch_twin(phase).flops_per_step()
    tg, pp = cases["tg"]["extra_info"], cases["pp"]["extra_info"]
    assert tg["steps_per_round"] == cases["tg"]["stats"]["iterations"] == N
    assert tg["parity_tokens"]["steps"] == tg["parity_tokens"]["agreed"] == N + 1
    assert tg["bytes_per_step"] == torch_twin().bytes_per_step()
    assert pp["items_per_step"] == PROMPT and pp["bytes_per_step"] is None
    assert {r["framework"] for r in saved["accelbench"]["llm"]} == {"mlx"}


def test_pytorch_and_mlx_side_by_side_in_the_framework_comparison(suite):
    add_benchmarks(suite, "test_llm.py", "test_llm_mlx.py")
    args = ("--devices", "cpu", "--frameworks", "torch,mlx", "-k", f"tg and {PROMPT}")
    result = suite.runpytest(*SMOKE, *args, "--benchmark-json", "run.json", "--bench-tables")
    result.assert_outcomes(passed=2, deselected=SMOKE_CASES - 2)
    result.stdout.fnmatch_lines(["PyTorch vs MLX*", f"llm ctx-L={PROMPT} *tg*fp32*cpu*x"])
    saved = json.loads((suite.path / "run.json").read_text())["accelbench"]
    (row,) = saved["frameworks"]
    assert row["frameworks"] == ["torch", "mlx"] and row["torch_vs_mlx"] > 0
    assert {r["framework"] for r in saved["llm"]} == {"torch", "mlx"}


def test_a_wrong_token_on_mlx_fails_the_case_naming_it(suite, monkeypatch):
    honest = MlxLanguageModel.generate_token

    def planted(self):  # the argmax is off by one from the first generated token on
        self.token = (honest(self) + 1) % self.size.vocab
        return self.token

    monkeypatch.setattr(MlxLanguageModel, "generate_token", planted)
    add_benchmarks(suite, "test_llm_mlx.py")
    result = suite.runpytest(*SMOKE, "--devices", "cpu", "-k", f"tg and {PROMPT}")
    result.assert_outcomes(failed=1, deselected=SMOKE_CASES // 2 - 1)
    result.stdout.fnmatch_lines(
        ["*ParityError: * (CPU, MLX): generated token 1 is * where the CPU generated *"]
    )


# Compile mode (mx.compile) --------------------------------------------------------------------


def compiled(phase: str = "tg", dtype: str = "fp32") -> MlxLanguageModel:
    spec = dataclasses.replace(case("mlx", phase, dtype), mode="compile")
    workload = MlxLanguageModel(spec, mlx_devices.get_device("cpu"))
    workload.compile_step()
    return workload


def test_the_compiled_decode_generates_the_eager_tokens_round_after_round(mlx):
    """The position is an array the compiled graph reads: a position frozen into the trace
    would repeat the first token's logits."""
    eager, fast = make(), compiled()
    device = mlx_devices.get_device("cpu")
    rounds = []
    for workload in (eager, fast):
        tokens = []
        for _ in range(2):
            workload.round_start()
            for _ in range(N):
                tokens.append(int(as_numpy(workload.step()).item()))
            device.synchronize()
        rounds.append(tokens)
    assert rounds[1] == rounds[0]
    assert rounds[1][:N] == rounds[1][N:]  # every round decodes the same positions


@pytest.mark.parametrize("phase", ["tg", "pp"])
def test_compiled_mlx_reproduces_the_pytorch_cpu(phase):
    result = compare(compiled(phase).parity_outputs(), torch_twin(phase).parity_outputs(), "fp32")
    check(result, "MLX CPU [compile]")
    assert result.max_error < 1e-5
