"""Self-attention: the cases it sweeps, what a step computes, counts and needs, and how a
length that does not fit in memory is skipped while the rest of the sweep runs.

(Named apart from ``benchmarks/test_attention.py``: pytest imports both as top-level
modules, and two ``test_attention`` modules in one process clash.)
"""

import json

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from accelbench.backends.torch.devices import get_device
from accelbench.core.spec import CaseSpec, parse_length_variant
from accelbench.workloads import attention
from accelbench.workloads.attention import Attention, attention_flops

from conftest import SMOKE, add_benchmarks


def make(variant, phase="infer", dtype="fp32", size="smoke", device="cpu"):
    spec = CaseSpec("torch", "attention", device, phase, dtype, size, variant)
    return Attention(spec, get_device(device))


def lengths_by_implementation(size):
    found = {}
    for variant in Attention.variants(size):
        implementation, length = parse_length_variant(variant)
        found.setdefault(implementation, []).append(length)
    return found


def test_each_profile_sweeps_both_implementations_over_the_same_lengths():
    assert Attention.variants("smoke") == ["naive-L=64", "naive-L=128", "sdpa-L=64", "sdpa-L=128"]
    for size in ("standard", "full"):
        found = lengths_by_implementation(size)
        assert set(found) == {"naive", "sdpa"}
        assert found["naive"] == found["sdpa"]
    assert lengths_by_implementation("standard")["sdpa"] == [128, 256, 512, 1024, 2048, 4096]
    full = lengths_by_implementation("full")["sdpa"]
    assert 8192 in full
    assert max(full) == 16384
    assert all(b == 2 * a for a, b in zip(full, full[1:]))


def test_full_size_keeps_an_h200_busy_at_8192():
    """B*H >= 32 at head_dim 128: one sdpa forward at L=8192 is about a TFLOP."""
    s = Attention.SIZES["full"]
    assert s.batch * s.heads >= 32
    assert s.head_dim in (64, 128)


def test_a_variant_must_name_a_known_implementation_and_a_length():
    with pytest.raises(ValueError, match="naive, sdpa"):
        make("flash-L=64")
    with pytest.raises(ValueError, match="<implementation>-L=<length>"):
        make("")


@pytest.mark.parametrize("phase", ["infer", "train"])
def test_naive_and_sdpa_compute_the_same_attention(phase):
    naive, sdpa = make("naive-L=64", phase), make("sdpa-L=64", phase)
    torch.testing.assert_close(naive.step().detach(), sdpa.step().detach())
    if phase == "train":
        for a, b in zip(naive.inputs, sdpa.inputs):
            torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize("phase", ["infer", "train"])
@pytest.mark.parametrize("implementation", ["naive", "sdpa"])
def test_flop_formula_matches_torchs_flop_counter(implementation, phase):
    """4*B*H*L^2*D forward, 3x that for forward and backward.

    The counter does not see inside the CPU's fused sdpa kernel, so sdpa is counted through
    its math backend: the same function written as matmuls.
    """
    workload = make(f"{implementation}-L=64", phase)
    b, h, n, d = workload.input_shape
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        workload.step()
    expected = 4 * b * h * n * n * d * (3 if phase == "train" else 1)
    assert workload.flops_per_step() == expected
    assert counter.get_total_flops() == expected


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA for the flash kernel")
def test_flop_formula_against_the_flash_kernel_on_cuda():
    """The counter sees the flash kernel: its forward is the formula; its backward also
    recomputes q k^T, which the formula leaves out."""
    workload = make("sdpa-L=256", "train", dtype="bf16", device="cuda")
    b, h, n, d = workload.input_shape
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION), counter:
        workload.step()
    recompute = 2 * b * h * n * n * d
    assert counter.get_total_flops() == workload.flops_per_step() + recompute
    assert workload.flops_per_step() == attention_flops(b, h, n, d, "train")


def test_a_step_processes_batch_times_length_tokens():
    workload = make("sdpa-L=128")
    s = Attention.SIZES["smoke"]
    assert workload.item_unit == "tokens"
    assert workload.items_per_step == s.batch * 128
    assert workload.shapes()["input"] == [s.batch, s.heads, 128, s.head_dim]


@pytest.mark.parametrize("implementation", ["naive", "sdpa"])
@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_reduced_precision_casts_the_inputs_and_reports_the_dtype_that_ran(dtype, implementation):
    workload = make(f"{implementation}-L=64", "train", dtype=dtype)
    torch_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    assert all(t.dtype == torch_dtype for t in workload.inputs)
    assert workload.dtype_ran() == dtype
    assert all(t.grad.dtype == torch_dtype for t in workload.inputs)


@pytest.mark.parametrize("phase", ["infer", "train"])
def test_the_parity_reference_is_the_first_batch_head_pair_of_a_whole_step(phase):
    workload = make("naive-L=64", phase)
    reference = workload.parity_outputs()
    output = workload.step().detach()
    torch.testing.assert_close(torch.from_numpy(reference["output"]), output[:1, :1])
    if phase == "train":
        for name, t in zip("qkv", workload.inputs):
            torch.testing.assert_close(torch.from_numpy(reference[f"grad[{name}]"]), t.grad[:1, :1])


def test_a_naive_step_needs_memory_growing_as_length_squared_and_sdpa_as_length():
    def growth(implementation):
        longer = make(f"{implementation}-L=2048", "train").step_bytes()
        return longer / make(f"{implementation}-L=1024", "train").step_bytes()

    assert growth("sdpa") == 2
    assert growth("naive") == pytest.approx(4, rel=0.05)
    assert make("naive-L=1024").step_bytes() > 10 * make("sdpa-L=1024").step_bytes()


def test_a_cpu_step_that_cannot_fit_raises_memory_error_before_allocating(monkeypatch):
    workload = make("naive-L=128", "train")
    monkeypatch.setattr(attention, "host_memory_available_bytes", lambda: workload.step_bytes() - 1)
    with pytest.raises(MemoryError, match="naive-L=128 train needs about") as raised:
        workload.step()
    assert get_device("cpu").is_out_of_memory(raised.value)

    fits = make("naive-L=128", "train")
    monkeypatch.setattr(attention, "host_memory_available_bytes", lambda: fits.step_bytes())
    fits.step()


def test_a_failed_cpu_allocation_counts_as_out_of_memory():
    with pytest.raises(RuntimeError) as raised:
        torch.empty(2**62, dtype=torch.uint8)  # more than any address space
    assert get_device("cpu").is_out_of_memory(raised.value)
    assert not get_device("cpu").is_out_of_memory(RuntimeError("shape mismatch"))


def test_out_of_memory_at_one_length_skips_that_case_and_the_rest_of_the_sweep_runs(
    suite, monkeypatch
):
    """One length raises torch.OutOfMemoryError in its step, another MemoryError while it is
    built; each skips naming the case, size and device, and the saved JSON stays whole."""
    honest_step, honest_init = Attention.step, Attention.__init__

    def step(self):
        if self.spec.variant == "naive-L=128":
            raise torch.OutOfMemoryError("planted: tried to allocate 64.00 GiB")
        return honest_step(self)

    def init(self, spec, device):
        if spec.variant == "sdpa-L=64":
            raise MemoryError("planted: cannot allocate q, k, v")
        honest_init(self, spec, device)

    monkeypatch.setattr(Attention, "step", step)
    monkeypatch.setattr(Attention, "__init__", init)
    add_benchmarks(suite, "test_attention.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu",
        "--frameworks",
        "torch",
        "-k",
        "infer",
        "--benchmark-json",
        "run.json",
        "-rs",
    )
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED*out of memory: attention naive-L=128 at size smoke (fp32) on *CPU*"
            "OutOfMemoryError: planted*",
            "SKIPPED*out of memory: attention sdpa-L=64 at size smoke (fp32) on *CPU*"
            "MemoryError: planted*",
        ]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    ran = sorted(b["extra_info"]["variant"] for b in saved["benchmarks"])
    assert ran == ["naive-L=64", "sdpa-L=128"]
    assert all(b["stats"]["median"] > 0 for b in saved["benchmarks"])
    scaling = saved["accelbench"]["scaling"]
    assert sorted((r["implementation"], r["lengths"]) for r in scaling) == [
        ("naive", [64]),
        ("sdpa", [128]),
    ]
