"""The MLX backend: device mapping and its reasons, and each MLX workload as its PyTorch twin.

What needs a Mac or an NVIDIA GPU is checked through its decisions (the skip reasons, as
pure functions of the platform facts, and the TF32 rules); the workloads run on MLX's CPU
and must reproduce the PyTorch CPU result of the same case from the same weights and inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from accelbench.backends.mlx import devices as mlx_devices
from accelbench.backends.mlx.devices import (
    apple_generation,
    cuda_unavailable_reason,
    metal_unavailable_reason,
)
from accelbench.backends.mlx.workload import MlxModelWorkload
from accelbench.backends.torch.devices import get_device as torch_device
from accelbench.core import parity
from accelbench.core.spec import CaseSpec
from accelbench.workloads.attention_mlx import MlxAttention
from accelbench.workloads.ceiling_mlx import MlxCeiling
from accelbench.workloads.cnn_mlx import MlxSimpleCNN
from accelbench.workloads.resnet18_mlx import MlxResNet18
from accelbench.workloads.transformer_mlx import MlxTransformerEncoder

MLX_WORKLOADS = (MlxSimpleCNN, MlxResNet18, MlxTransformerEncoder, MlxAttention, MlxCeiling)


def mlx_case(cls, phase, dtype="fp32", variant="", device="cpu"):
    spec = CaseSpec("mlx", cls.name, device, phase, dtype=dtype, size="smoke", variant=variant)
    return cls(spec, mlx_devices.get_device(device))


def parity_against_torch(workload) -> parity.ParityResult:
    reference_cls, reference_spec = workload.parity_reference(workload.spec)
    expected = reference_cls(reference_spec, torch_device("cpu")).parity_outputs()
    return parity.compare(workload.parity_outputs(), expected, workload.spec.dtype)


# Skip reasons, as functions of the platform --------------------------------------------------


def test_metal_needs_macos_on_apple_silicon_and_a_metal_device():
    assert metal_unavailable_reason("linux", "x86_64", False, "0.32.4") == (
        "MLX Metal GPU not available: linux is not macOS"
    )
    assert metal_unavailable_reason("darwin", "x86_64", False, "0.32.4") == (
        "MLX Metal GPU not available: needs Apple Silicon, this Mac is x86_64"
    )
    assert metal_unavailable_reason("darwin", "arm64", False, "0.32.4") == (
        "MLX Metal GPU not available: mlx 0.32.4 reports no Metal device"
    )
    assert metal_unavailable_reason("darwin", "arm64", True, "0.32.4") is None


def test_cuda_needs_a_cuda_build_and_says_how_to_get_one():
    assert cuda_unavailable_reason("darwin", False, {}, None) == (
        "MLX CUDA GPU not available: MLX has no CUDA on macOS"
    )
    reason = cuda_unavailable_reason("linux", False, {}, "0.32.4")
    assert reason.startswith("MLX CUDA GPU not available: this MLX is a CPU build")
    assert "pip install 'mlx[cuda13]'" in reason
    assert cuda_unavailable_reason("linux", True, {"mlx-cuda-13": "0.32.4"}, None) is None


def test_a_cpu_wheel_beside_a_cuda_wheel_is_named_as_the_cause():
    """mlx-cpu and mlx-cuda-* both install mlx/lib/libmlx.so; the one installed last wins."""
    reason = cuda_unavailable_reason("linux", False, {"mlx-cuda-12": "0.32.4"}, "0.32.4")
    assert "mlx-cuda-12 0.32.4 and mlx-cpu 0.32.4 are both installed" in reason
    assert "pip uninstall -y mlx-cpu mlx-cuda-12" in reason


def test_a_missing_mlx_and_a_broken_one_are_told_apart():
    missing = ModuleNotFoundError("No module named 'mlx'", name="mlx")
    assert mlx_devices._import_reason(missing).startswith("MLX is not installed (pip install")
    broken = ImportError("libmlx.so: cannot open shared object file")
    assert mlx_devices._import_reason(broken) == (
        "MLX unusable: ImportError: libmlx.so: cannot open shared object file"
    )


def test_apple_generation_reads_the_chip_name():
    assert apple_generation("Apple M4 Pro") == 4
    assert apple_generation("Apple M5") == 5
    assert apple_generation("AMD EPYC 9654 96-Core Processor") is None


# The devices on this machine -------------------------------------------------------------------


def test_cpu_is_usable_and_gpus_skip_with_the_reason(mlx):
    cpu = mlx_devices.get_device("cpu")
    assert cpu.usable
    assert cpu.label.endswith("(CPU, MLX)")
    assert cpu.framework == "mlx"
    for name in ("mps", "cuda"):
        device = mlx_devices.get_device(name)
        if not device.usable:
            assert device.unusable_reason.startswith(("MLX Metal GPU", "MLX CUDA GPU", name))


def test_cpu_runs_fp16_and_bf16_but_not_tf32(mlx):
    cpu = mlx_devices.get_device("cpu")
    assert cpu.dtype_unsupported_reason("fp16") is None
    assert cpu.dtype_unsupported_reason("bf16") is None
    assert "tensor-core mode" in cpu.dtype_unsupported_reason("tf32")
    assert cpu.float32_mode() == "fp32"


def test_fp32_is_strict_unless_the_user_turned_tf32_on(mlx, monkeypatch):
    """MLX computes float32 matmuls in TF32 by default where it can; the guard sets
    MLX_ENABLE_TF32=0 before the import, and a CUDA device reports what is set."""
    import os

    assert os.environ.get(mlx_devices.TF32_VAR) is not None
    cuda = mlx_devices.MlxCudaDevice()
    monkeypatch.setattr(
        mlx_devices,
        "_device_info",
        lambda device: {"device_name": "NVIDIA H200", "compute_capability_major": 9},
    )
    monkeypatch.setenv(mlx_devices.TF32_VAR, "0")
    assert cuda.float32_mode() == "fp32"
    assert "needs MLX_ENABLE_TF32=1" in cuda.dtype_unsupported_reason("tf32")
    monkeypatch.setenv(mlx_devices.TF32_VAR, "1")
    assert cuda.float32_mode() == "tf32"
    assert cuda.dtype_unsupported_reason("tf32") is None
    assert cuda.label == "NVIDIA H200 (MLX CUDA)"


def test_memory_comes_from_mlxs_allocator(mlx):
    cpu = mlx_devices.get_device("cpu")
    cpu.reset_memory()
    with cpu.stream():
        big = mlx.ones((1024, 1024))
        mlx.eval(big)
    figures = cpu.memory()
    assert figures["allocated_peak_bytes"] >= 4 * 1024 * 1024
    assert set(figures) == {"allocated_peak_bytes", "allocated_active_bytes"}


def test_environment_reports_versions_devices_and_the_tf32_setting(mlx):
    facts = mlx_devices.environment()
    assert facts["import_error"] is None
    assert facts["mlx_runtime"] == mlx.__version__
    assert facts["devices"]["cpu"]["usable"] is True
    assert facts[mlx_devices.TF32_VAR] is not None
    assert "mlx_runtime" not in mlx_devices.environment(load=False)


# The workloads: twins of the PyTorch ones ------------------------------------------------------


@pytest.mark.parametrize("cls", MLX_WORKLOADS, ids=lambda cls: cls.name)
def test_each_mlx_workload_has_its_twins_name_phases_sizes_and_variants(cls):
    twin = cls.twin
    assert cls.framework == "mlx"
    assert (cls.name, cls.phases, cls.SIZES) == (twin.name, twin.phases, twin.SIZES)
    for size in ("smoke", "standard", "full"):
        assert cls.variants(size) == twin.variants(size)
    if isinstance(twin.__dict__.get("item_unit"), str):
        assert cls.item_unit == twin.item_unit


def trainable_count(workload) -> int:
    from mlx.utils import tree_flatten

    return sum(v.size for _, v in tree_flatten(workload.model.trainable_parameters()))


def test_cnn_has_the_torch_cnns_parameter_count(mlx):
    assert trainable_count(mlx_case(MlxSimpleCNN, "infer")) == 60_362


def test_resnet18_has_torchvisions_parameter_count(mlx):
    import torchvision

    reference = torchvision.models.resnet18(weights=None, num_classes=1000)
    expected = sum(p.numel() for p in reference.parameters())
    assert expected == 11_689_512
    assert trainable_count(mlx_case(MlxResNet18, "infer")) == expected


def test_transformer_has_the_torch_encoders_parameter_count(mlx):
    workload = mlx_case(MlxTransformerEncoder, "infer")
    twin = workload.build_twin()
    assert trainable_count(workload) == sum(p.numel() for p in twin.model.parameters())


def test_a_model_that_does_not_match_its_twin_is_refused(mlx, monkeypatch):
    from accelbench.workloads import cnn_mlx

    monkeypatch.setattr(cnn_mlx, "CLASSES", 11)  # an MLX head one class wider than PyTorch's
    with pytest.raises(ValueError):  # load_weights(strict=True) names the mismatched shape
        mlx_case(MlxSimpleCNN, "infer")


CASES = [
    (MlxSimpleCNN, ""),
    (MlxResNet18, ""),
    (MlxTransformerEncoder, ""),
    (MlxAttention, "naive-L=64"),
    (MlxAttention, "sdpa-L=64"),
]


@pytest.mark.parametrize("phase", ["train", "infer"])
@pytest.mark.parametrize(("cls", "variant"), CASES, ids=lambda v: getattr(v, "name", v))
def test_mlx_cpu_reproduces_the_pytorch_cpu_result(mlx, cls, variant, phase):
    workload = mlx_case(cls, phase, variant=variant)
    result = parity_against_torch(workload)
    assert result.passed, result.errors
    assert "output" in result.errors
    if phase == "train":
        assert any(name.startswith("grad[") for name in result.errors)
        assert ("loss" in result.errors) == (cls is not MlxAttention)
    assert workload.dtype_ran() == "fp32"


@pytest.mark.parametrize("variant", ["matmul", "copy"])
def test_mlx_ceilings_reproduce_the_pytorch_reference(mlx, variant):
    workload = mlx_case(MlxCeiling, "peak", variant=variant)
    result = parity_against_torch(workload)
    assert result.passed, result.errors
    if variant == "copy":
        assert result.max_error == 0.0  # a copy is exact
        assert workload.bytes_per_step() == 2 * 4 * workload.size.copy_elements
    else:
        assert workload.flops_per_step() == 2 * workload.size.matmul_n**3


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
@pytest.mark.parametrize(
    ("cls", "variant"),
    [(MlxSimpleCNN, ""), (MlxTransformerEncoder, ""), (MlxAttention, "sdpa-L=64")],
    ids=lambda v: getattr(v, "name", v),
)
def test_reduced_precision_runs_in_that_dtype_within_its_tolerance(mlx, cls, variant, dtype):
    workload = mlx_case(cls, "train", dtype=dtype, variant=variant)
    assert workload.dtype_ran() == dtype
    result = parity_against_torch(workload)
    assert result.passed, result.errors
    assert result.max_error > 1e-5  # it did compute in the reduced dtype


def test_mixed_precision_keeps_float32_parameters_and_optimizer_state(mlx):
    from mlx.utils import tree_flatten

    workload = mlx_case(MlxSimpleCNN, "train", dtype="bf16")
    workload.step()
    workload.device.synchronize()
    arrays = [a for _, a in tree_flatten(workload.state()) if isinstance(a, mlx.array)]
    assert {a.dtype for a in arrays} == {mlx.float32, mlx.uint64}  # uint64: the step count


def test_a_train_step_evaluates_the_updated_parameters_and_optimizer_state(mlx, monkeypatch):
    """MLX is lazy: a step that evaluated only its loss would leave the update undone."""
    from mlx.utils import tree_flatten

    workload = mlx_case(MlxResNet18, "train")
    evaluated: list = []
    real = mlx.async_eval

    def capture(*arrays):
        evaluated.extend(a for _, a in tree_flatten(list(arrays)))
        return real(*arrays)

    monkeypatch.setattr(mlx, "async_eval", capture)
    loss = workload.step()
    workload.device.synchronize()
    ids = {id(a) for a in evaluated}
    assert id(loss) in ids
    params = tree_flatten(workload.model.parameters())  # BatchNorm statistics included
    assert {name for name, a in params if id(a) not in ids} == set()
    state = tree_flatten(workload.optimizer.state)
    assert {name for name, a in state if id(a) not in ids} == set()
    assert any(name.endswith("running_mean") for name, _ in params)


def test_training_changes_the_weights_and_lowers_the_loss(mlx):
    workload = mlx_case(MlxTransformerEncoder, "train")
    before = np.asarray(workload.model.head.weight)
    losses = [workload.step().item() for _ in range(4)]
    assert losses[-1] < losses[0]
    assert not np.array_equal(before, np.asarray(workload.model.head.weight))


def test_flops_are_the_pytorch_twins(mlx):
    workload = mlx_case(MlxSimpleCNN, "train")
    assert workload.flops_per_step() == workload.build_twin().flops_per_step() > 0


def test_attention_that_cannot_fit_raises_memory_error_before_its_step(mlx, monkeypatch):
    workload = mlx_case(MlxAttention, "train", variant="naive-L=128")
    monkeypatch.setattr(type(workload.device), "memory_available_bytes", lambda self: 1000)
    with pytest.raises(MemoryError, match=r"needs about 0\.0 GiB for one step; 0\.0 GiB"):
        workload.step()
    assert workload.device.is_out_of_memory(MemoryError())


def test_workloads_describe_their_step(mlx):
    transformer = mlx_case(MlxTransformerEncoder, "train")
    assert transformer.items_per_step == transformer.build_twin().items_per_step
    assert transformer.shapes()["real_tokens"] == transformer.items_per_step
    cnn = mlx_case(MlxSimpleCNN, "infer")
    assert cnn.shapes() == {"batch": 16, "input": [16, 32, 32, 3], "layout": "NHWC"}
    assert issubclass(MlxSimpleCNN, MlxModelWorkload)
