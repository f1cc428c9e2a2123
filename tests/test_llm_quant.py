"""The language model with quantized weights (w4, w8): named in the case, packed by torch's
own weight-only kernels and by MLX's quantization, bytes per token from the packed weights,
parity against the same weights dequantized in fp32 on the CPU, the quantization error
against the unquantized model within the stated bounds, and skips with the reason where a
device or dtype has no kernel.

Everything runs on the CPU, at the smoke size.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from accelbench.backends.torch import weight_only
from accelbench.backends.torch.devices import get_device
from accelbench.core.parity import TOLERANCES, ParityError, check, compare, relative_error
from accelbench.core.spec import CaseSpec
from accelbench.workloads import llm_quant
from accelbench.workloads.llm import (
    LanguageModel,
    QuantizedReference,
    context_length,
    packed_bytes_per_token,
)
from accelbench.workloads.llm_model import decode_bytes, kv_bytes_per_position
from accelbench.workloads.llm_weights import (
    MLX_FORMATS,
    TORCH_FORMATS,
    WEIGHTS,
    matrix_shapes,
    quantized_weight_bytes,
    weights_of,
)

from conftest import SMOKE, add_benchmarks

SMOKE_SIZE = LanguageModel.SIZES["smoke"]
PROMPT = max(SMOKE_SIZE.contexts)  # where the quantized cases run

# The quantization error the docs state (docs/workloads.md, "Quantized weights"): the
# dequantized model's logits against the unquantized model's, both in fp32 on the CPU, at
# the smoke size. Measured: w4 0.121 (teacher-forced) and 0.138 (prompt), top-1 7 of 8;
# w8 0.0085 and 0.0101, top-1 8 of 8.
QUANTIZATION_ERROR = {"w4": 0.2, "w8": 0.02}
TOP1_AGREEMENT = {"w4": 0.75, "w8": 1.0}
# Parity of the kernels against the same weights dequantized, in fp32 on the CPU: the
# same products summed in another order.
FP32_KERNEL_ERROR = 1e-5


def spec(phase="tg", dtype="fp32", weights="w4", framework="torch", device="cpu") -> CaseSpec:
    variant = f"ctx-{weights}-L={PROMPT}" if weights else f"ctx-L={PROMPT}"
    return CaseSpec(framework, "llm", device, phase, dtype, "smoke", variant)


def make(phase="tg", dtype="fp32", weights="w4") -> LanguageModel:
    return LanguageModel(spec(phase, dtype, weights), get_device("cpu"))


def reference(phase="tg", weights="w4") -> dict[str, np.ndarray]:
    return QuantizedReference(spec(phase, "fp32", weights), get_device("cpu")).parity_outputs()


# Named in the case -----------------------------------------------------------------------------


def test_the_weights_are_a_bare_name_in_the_variant_and_the_unquantized_case_keeps_its_name():
    assert weights_of("ctx-w4-L=512") == "w4"
    assert weights_of("ctx-w8-L=512") == "w8"
    assert weights_of("ctx-L=512") == ""
    assert weights_of("not a variant") == ""
    assert LanguageModel.variants("smoke") == [
        "ctx-L=16",
        "ctx-L=32",
        "ctx-w4-L=32",
        "ctx-w8-L=32",
    ]
    assert LanguageModel.variants("full") == ["ctx-L=512", "ctx-w4-L=512", "ctx-w8-L=512"]
    assert context_length(spec(weights="w8")) == PROMPT


def test_the_default_quick_profile_runs_no_quantized_case():
    assert LanguageModel.variants("quick") == ["ctx-L=128"]
    assert all(set(LanguageModel.SIZES[s].weights) == set(WEIGHTS) for s in ("smoke", "full"))


def test_an_unknown_weights_name_is_refused_in_one_line():
    with pytest.raises(ValueError, match="expected 'ctx-L=<length>' or, quantized"):
        context_length(spec(weights="w5"))


# torch's weight-only kernels -------------------------------------------------------------------


def seeded_matrix(rows=96, cols=256) -> torch.Tensor:
    return torch.randn(rows, cols, generator=torch.Generator().manual_seed(0)) * 0.02


def test_int4_codes_are_four_bits_and_every_weight_is_within_half_a_step_of_its_group():
    w = seeded_matrix()
    codes, scales, zeros = weight_only.quantize_int4(w)
    assert codes.min() >= 0 and codes.max() <= 15
    assert scales.shape == zeros.shape == (96, 256 // weight_only.GROUP_SIZE)
    assert torch.equal(scales, scales.bfloat16().float())  # bf16 values, as CUDA stores them
    error = (weight_only.dequantize_int4(codes, scales, zeros) - w).abs()
    step = scales.repeat_interleave(weight_only.GROUP_SIZE, dim=1)
    assert (error <= step * 0.5 + 1e-3 * step).all()


def test_int8_codes_are_one_scale_per_output_channel():
    w = seeded_matrix()
    codes, scales = weight_only.quantize_int8(w)
    assert codes.dtype == torch.int8 and scales.shape == (96,)
    error = (weight_only.dequantize_int8(codes, scales) - w).abs()
    assert (error <= scales[:, None] * 0.5 * (1 + 1e-3)).all()


@pytest.mark.parametrize("weights", WEIGHTS)
def test_the_cpu_kernel_multiplies_by_exactly_the_dequantized_matrix(weights):
    w = seeded_matrix()
    layer = weight_only.quantized_linear(weights, w, torch.float32, "cpu")
    x = torch.randn(2, 3, 256, generator=torch.Generator().manual_seed(1))
    expected = x @ weight_only.dequantized(weights, w).T
    assert relative_error(layer(x).numpy(), expected.numpy()) < FP32_KERNEL_ERROR


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_stored_bytes_are_the_packed_weights_and_scales_the_format_counts(weights, dtype):
    layer = weight_only.quantized_linear(weights, seeded_matrix(), dtype, "cpu")
    itemsize = torch.tensor([], dtype=dtype).element_size()
    assert layer.stored_bytes() == TORCH_FORMATS[weights].matrix_bytes(96, 256, itemsize)


def test_w4_stores_a_quarter_of_bf16_plus_its_scales():
    fmt = TORCH_FORMATS["w4"]
    assert fmt.matrix_bytes(2048, 2048, 2) == 2048 * 2048 // 2 + 2048 * 32 * 2 * 2
    assert TORCH_FORMATS["w8"].matrix_bytes(2048, 2048, 2) == 2048 * 2048 + 2048 * 2


class FakeDevice:
    """The reason comes from the case's device name, before any device is touched."""

    def __init__(self, kind: str) -> None:
        self.kind = kind


@pytest.mark.parametrize(
    ("weights", "device", "dtype", "reason"),
    [
        ("w4", "cuda", "fp32", "w4 on cuda: torch's _weight_int4pack_mm takes bf16 activations"),
        ("w8", "mps", "fp32", "w8 on mps: torch's weight-only kernels are wired for the CPU"),
    ],
)
def test_a_device_or_dtype_without_a_kernel_skips_with_the_reason_at_plan_time(
    weights, device, dtype, reason
):
    case = spec("tg", dtype, weights, device=device)
    found = LanguageModel.mode_unsupported_reason(case, FakeDevice(device))
    assert found is not None and found.startswith(reason)


def test_a_torch_without_the_kernel_skips_with_its_version(monkeypatch):
    monkeypatch.setattr(weight_only, "_has_kernel", lambda op, device_type: False)
    reason = LanguageModel.mode_unsupported_reason(spec(), FakeDevice("cpu"))
    assert reason == (
        f"w4 on cpu: this torch {torch.__version__} has no _weight_int4pack_mm_for_cpu kernel"
    )


def test_the_unquantized_case_has_no_weights_reason():
    assert LanguageModel.mode_unsupported_reason(spec(weights=""), FakeDevice("cuda")) is None


# The quantized model ---------------------------------------------------------------------------


@pytest.mark.parametrize("weights", WEIGHTS)
def test_every_matmul_weight_is_quantized_and_the_norms_and_lookup_are_not(weights):
    model = make("pp", weights=weights).model
    quantized = [m for m in model.modules() if isinstance(m, weight_only.WeightOnlyLinear)]
    assert [(m.rows, m.cols) for m in quantized] == matrix_shapes(SMOKE_SIZE)
    assert model.head is quantized[-1]  # the tied table quantized for the head
    assert not any(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert model.embed.weight.dtype == torch.float32


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_bytes_per_token_are_the_stored_packed_weights_norms_lookup_row_and_cache(weights, dtype):
    workload = make("tg", dtype, weights)
    itemsize = workload.cache.itemsize
    stored = llm_quant.stored_weight_bytes(workload.model)
    norms = sum(p.numel() for n, p in workload.model.named_parameters() if "norm" in n)
    row = SMOKE_SIZE.d_model
    weights_read = stored + (norms + row) * itemsize
    assert packed_bytes_per_token(SMOKE_SIZE, TORCH_FORMATS[weights], itemsize) == weights_read
    expected = decode_bytes(SMOKE_SIZE, itemsize, PROMPT, SMOKE_SIZE.generate, weights_read)
    assert workload.bytes_per_step() == round(expected)
    assert expected - weights_read == pytest.approx(
        kv_bytes_per_position(SMOKE_SIZE, itemsize) * (PROMPT + (SMOKE_SIZE.generate + 3) / 2)
    )


def test_at_the_llama_shape_w4_reads_under_a_third_of_bf16s_weight_bytes():
    full = LanguageModel.SIZES["full"]
    bf16 = decode_bytes(full, 2, 0, 1) - kv_bytes_per_position(full, 2)
    w4 = packed_bytes_per_token(full, TORCH_FORMATS["w4"], 2)
    w8 = packed_bytes_per_token(full, TORCH_FORMATS["w8"], 2)
    assert 0.25 < w4 / bf16 < 1 / 3 and 0.5 < w8 / bf16 < 0.51


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("phase", ["pp", "tg"])
def test_fp32_parity_with_the_dequantized_weights_is_tight(weights, phase):
    cls, reference_spec = LanguageModel.parity_reference(spec(phase, "fp32", weights))
    assert cls is QuantizedReference and reference_spec == spec(phase, "fp32", weights)
    result = compare(
        make(phase, "fp32", weights).parity_outputs(), reference(phase, weights), "fp32"
    )
    assert result.max_error < FP32_KERNEL_ERROR
    assert result.tokens is None or not result.tokens.parted


@pytest.mark.parametrize("weights", WEIGHTS)
def test_bf16_parity_with_the_dequantized_weights_is_within_bf16s_tolerance(weights):
    result = compare(make("tg", "bf16", weights).parity_outputs(), reference("tg", weights), "bf16")
    check(result, "cpu bf16")
    assert result.max_error < TOLERANCES["bf16"]


def test_a_wrong_scale_fails_parity():
    workload = make("tg", "fp32", "w4")
    workload.model.blocks[0].qkv.scale_and_zero[0, :, 0] *= 1.5
    result = compare(workload.parity_outputs(), reference("tg", "w4"), "fp32")
    with pytest.raises(ParityError, match="differs from the CPU"):
        check(result, "cpu")


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("phase", ["pp", "tg"])
def test_the_quantization_error_against_the_unquantized_model_is_within_the_stated_bounds(
    weights, phase
):
    name = "prompt logits" if phase == "pp" else "teacher-forced logits"
    unquantized = make(phase, "fp32", "").parity_outputs()[name]
    quantized = reference(phase, weights)[name]
    assert relative_error(quantized, unquantized) <= QUANTIZATION_ERROR[weights]
    top1 = np.mean(quantized.argmax(-1) == unquantized.argmax(-1))
    assert top1 >= TOP1_AGREEMENT[weights]
    assert relative_error(quantized, unquantized) > 0  # the weights are quantized


# MLX -----------------------------------------------------------------------------------------


def mlx_case(phase="tg", dtype="fp32", weights="w4", reference=False):
    from accelbench.backends.mlx import devices as mlx_devices
    from accelbench.workloads.llm_mlx import MlxLanguageModel, MlxQuantizedReference

    cls = MlxQuantizedReference if reference else MlxLanguageModel
    return cls(spec(phase, dtype, weights, "mlx"), mlx_devices.get_device("cpu"))


@pytest.mark.parametrize("weights", WEIGHTS)
def test_mlx_quantizes_every_matmul_weight_with_its_own_format(weights, mlx):
    from accelbench.workloads.llm_quant_mlx import MlxQuantized

    model = mlx_case("pp", weights=weights).model
    quantized = {n: w for n, w in model.weights.items() if isinstance(w, MlxQuantized)}
    fmt = MLX_FORMATS[weights]
    assert len(quantized) == len(matrix_shapes(SMOKE_SIZE)) and "head.weight" in quantized
    assert {(w.bits, w.group_size) for w in quantized.values()} == {(fmt.bits, fmt.group_size)}
    assert sum(w.nbytes for w in quantized.values()) == quantized_weight_bytes(SMOKE_SIZE, fmt, 4)


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_mlx_quantized_parity_is_against_its_own_dequantized_weights_on_the_cpu(
    weights, dtype, mlx
):
    from accelbench.workloads.llm_mlx import MlxLanguageModel, MlxQuantizedReference

    case = spec("tg", dtype, weights, "mlx")
    cls, reference_spec = MlxLanguageModel.parity_reference(case)
    assert cls is MlxQuantizedReference and reference_spec == spec("tg", "fp32", weights, "mlx")
    expected = mlx_case("tg", "fp32", weights, reference=True).parity_outputs()
    result = compare(mlx_case("tg", dtype, weights).parity_outputs(), expected, dtype)
    check(result, f"mlx cpu {dtype}")
    if dtype == "fp32":
        assert result.max_error < FP32_KERNEL_ERROR


def test_mlx_w4_error_against_the_unquantized_pytorch_model_is_within_the_stated_bound(mlx):
    name = "teacher-forced logits"
    unquantized = make("tg", "fp32", "").parity_outputs()[name]
    quantized = mlx_case("tg", "fp32", "w4", reference=True).parity_outputs()[name]
    assert 0 < relative_error(quantized, unquantized) <= QUANTIZATION_ERROR["w4"]


# Sessions ------------------------------------------------------------------------------------


def test_smoke_session_runs_quantized_cases_on_the_cpu_and_names_their_weights(suite, mlx):
    add_benchmarks(suite, "test_llm.py", "test_llm_mlx.py")
    args = (*SMOKE, "--devices", "cpu", "-k", f"tg and w4 and {PROMPT}")
    result = suite.runpytest(*args, "--benchmark-json", "run.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["test * weights *", f"tg* @ d{PROMPT} *mlx *fp32 *w4 *"])
    saved = json.loads((suite.path / "run.json").read_text())["benchmarks"]
    by_framework = {b["extra_info"]["framework"]: b["extra_info"] for b in saved}
    torch_info, mlx_info = by_framework["torch"], by_framework["mlx"]
    assert torch_info["bytes_per_step"] == make("tg", "fp32", "w4").bytes_per_step()
    assert torch_info["parity_reference"] == "torch cpu fp32"
    assert torch_info["parity_max_rel_error"] < FP32_KERNEL_ERROR
    assert mlx_info["parity_reference"] == "mlx cpu fp32"
    assert mlx_info["parity_max_rel_error"] < FP32_KERNEL_ERROR


def test_quantized_weights_decode_in_compile_mode_with_parity(suite, mlx):
    """The compiled decode multiplies quantized weights through their own kernels (the
    head too) and is checked against the CPU as the eager decode is."""
    add_benchmarks(suite, "test_llm.py", "test_llm_mlx.py")
    args = (*SMOKE, "--devices", "cpu", "--mode", "compile", "-k", f"tg and w4 and {PROMPT}")
    result = suite.runpytest(*args, "--benchmark-json", "run.json")
    result.assert_outcomes(passed=2)
    saved = json.loads((suite.path / "run.json").read_text())["benchmarks"]
    for info in (b["extra_info"] for b in saved):
        assert (info["mode"], info["parity_reference"]) == (
            "compile",
            f"{info['framework']} cpu fp32",
        )
        assert info["parity_max_rel_error"] < FP32_KERNEL_ERROR
