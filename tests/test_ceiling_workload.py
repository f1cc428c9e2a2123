"""The ceiling workload: a large matmul (FLOP/s) and a large copy (bytes/s) per device."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from accelbench.__main__ import main
from accelbench.backends.torch.devices import get_device
from accelbench.core import parity
from accelbench.core.spec import CaseSpec
from accelbench.workloads.ceiling import (
    COPY,
    MATMUL,
    PARITY_ROWS,
    Ceiling,
    copy_bytes,
    matmul_flops,
)

from conftest import SMOKE, add_benchmarks


def spec(variant: str, dtype: str = "fp32", device: str = "cpu", size: str = "smoke") -> CaseSpec:
    return CaseSpec("torch", "ceiling", device, "peak", dtype=dtype, size=size, variant=variant)


class CpuStandIn:
    """An accelerator whose tensors live on the CPU, to run the accelerator's code path."""

    name = "cuda"

    def torch_device(self) -> torch.device:
        return torch.device("cpu")

    def synchronize(self, result=None) -> None: ...


def test_a_matmul_counts_two_flops_per_multiply_add():
    assert matmul_flops(256) == 2 * 256**3
    workload = Ceiling(spec(MATMUL), get_device("cpu"))
    counter = FlopCounterMode(display=False)
    with counter:
        workload.step()
    assert workload.flops_per_step() == counter.get_total_flops()  # torch's own count agrees


@pytest.mark.parametrize("dtype", ["fp32", "fp16", "bf16"])
def test_a_copy_counts_the_bytes_read_and_the_bytes_written(dtype):
    workload = Ceiling(spec(COPY, dtype), get_device("cpu"))
    dst = workload.step()
    src = workload._src
    moved = src.numel() * src.element_size() + dst.numel() * dst.element_size()
    assert workload.bytes_per_step() == moved == copy_bytes(src.numel(), dtype)
    assert workload.items_per_step == moved and workload.item_unit == "bytes"
    assert torch.equal(dst, src)
    assert workload.flops_per_step() is None


def test_the_matmul_computes_a_times_b_in_the_runs_dtype():
    workload = Ceiling(spec(MATMUL, "bf16"), get_device("cpu"))
    out = workload.step()
    assert out.dtype == torch.bfloat16 and workload.dtype_ran() == "bf16"
    assert torch.equal(out, workload.a @ workload.b)
    assert workload.bytes_per_step() is None and workload.item_unit == "matmuls"


def test_sizes_grow_to_saturate_large_gpus():
    sizes = Ceiling.SIZES
    assert sizes["smoke"].matmul_n < sizes["standard"].matmul_n < sizes["full"].matmul_n == 8192
    assert sizes["smoke"].copy_elements < sizes["standard"].copy_elements
    # a full copy moves 2 GiB in fp32: far beyond any cache (an H200's L2 is 50 MB)
    assert copy_bytes(sizes["full"].copy_elements, "fp32") == 2 * 2**30
    assert Ceiling.variants("smoke") == [MATMUL, COPY]


@pytest.mark.parametrize("variant", [MATMUL, COPY])
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_the_accelerator_path_matches_the_cheap_cpu_reference(variant, dtype):
    reference = Ceiling(spec(variant), get_device("cpu")).parity_outputs()
    on_device = Ceiling(spec(variant, dtype, device="cuda"), CpuStandIn()).parity_outputs()
    result = parity.compare(on_device, reference, dtype)
    assert result.passed, result.errors


def test_the_cpu_reference_checks_a_slice_of_the_matmul_only():
    ((name, rows),) = Ceiling(spec(MATMUL), get_device("cpu")).parity_outputs().items()
    assert rows.shape == (PARITY_ROWS, Ceiling.SIZES["smoke"].matmul_n)
    assert name == f"C[:{PARITY_ROWS}]"


def test_a_wrong_copy_fails_the_parity_check():
    reference = Ceiling(spec(COPY), get_device("cpu")).parity_outputs()
    broken = Ceiling(spec(COPY, device="cuda"), CpuStandIn())
    broken.step = lambda: torch.zeros_like(broken._copy_buffers()[1])  # type: ignore[method-assign]
    assert not parity.compare(broken.parity_outputs(), reference, "fp32").passed


def test_a_smoke_session_records_ceilings_and_the_report_shows_them(suite, tmp_path, capsys):
    add_benchmarks(suite, "test_ceiling.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*torch ceiling copy*peak*fp32*[0-9] [MGT]B/s*", "*torch ceiling matmul*peak*TFLOP/s*"]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    info = {b["extra_info"]["variant"]: b["extra_info"] for b in saved["benchmarks"]}
    n = Ceiling.SIZES["smoke"].matmul_n
    assert info[MATMUL]["flops_per_step"] == 2 * n**3
    assert info[MATMUL]["tflops_per_s"] > 0
    assert info[COPY]["bytes_per_step"] == copy_bytes(Ceiling.SIZES["smoke"].copy_elements, "fp32")

    assert main(["report", str(suite.path / "run.json"), "--out", str(tmp_path)]) == 0
    markdown = (tmp_path / "report.md").read_text()
    label = info[MATMUL]["device_label"]
    (line,) = [x for x in markdown.splitlines() if x.startswith(f"| {label} | fp32 | {n}^3 |")]
    assert "MiB" in line
