"""`--sweep batch`: every workload at batches doubling from 1, each point its own case.

The crossover session runs a fake workload on a fake MPS whose step "takes" a known time
for its batch on a virtual clock (``virtualclock``), so the measured medians, and with them
the crossover, follow exactly from the inputs, however busy the machine is.
"""

import json
import textwrap

import pytest

from accelbench.core.latency import isolated_latency
from accelbench.core.sizes import BUDGETS
from accelbench.core.spec import CaseSpec
from accelbench.core.sweep import case_variants
from accelbench.workloads.attention import Attention
from accelbench.workloads.attention_mlx import MlxAttention
from accelbench.workloads.ceiling import Ceiling
from accelbench.workloads.ceiling_mlx import MlxCeiling
from accelbench.workloads.cnn import SimpleCNN
from accelbench.workloads.cnn_mlx import MlxSimpleCNN
from accelbench.workloads.cnn_tf import TfSimpleCNN
from accelbench.workloads.resnet18 import ResNet18
from accelbench.workloads.resnet18_mlx import MlxResNet18
from accelbench.workloads.transformer import TransformerEncoderWorkload
from accelbench.workloads.transformer_mlx import MlxTransformerEncoder

from conftest import SMOKE, add_benchmarks

USAGE_ERROR = 4


# The contract ------------------------------------------------------------------------------


def test_batch_sizes_double_from_one_to_the_profiles_maximum():
    assert SimpleCNN.batch_sizes("smoke") == [1, 2, 4]
    assert SimpleCNN.batch_sizes("standard") == [1, 2, 4, 8, 16, 32, 64]
    assert SimpleCNN.batch_sizes("full")[-1] == 256
    assert TfSimpleCNN.batch_sizes("full") == SimpleCNN.batch_sizes("full")
    assert ResNet18.batch_sizes("smoke") == [1, 2]
    assert ResNet18.batch_sizes("full")[-1] == 256
    for size in ("smoke", "standard", "full"):  # up to the profile's token budget
        profile = TransformerEncoderWorkload.SIZES[size]
        assert TransformerEncoderWorkload.batch_sizes(size)[-1] == profile.batch


def test_mlx_workloads_sweep_the_same_batches_as_their_pytorch_twins():
    for mlx_workload in (MlxSimpleCNN, MlxResNet18, MlxTransformerEncoder):
        for size in ("smoke", "standard", "full"):
            assert mlx_workload.batch_sizes(size) == mlx_workload.twin.batch_sizes(size)
            assert case_variants(mlx_workload, size, "batch") == case_variants(
                mlx_workload.twin, size, "batch"
            )


def test_attention_and_ceilings_opt_out_and_run_their_usual_cases():
    for workload in (Attention, Ceiling, MlxAttention, MlxCeiling):
        assert workload.batch_sizes("standard") == []
        assert case_variants(workload, "smoke", "batch") == workload.variants("smoke")


def test_without_a_sweep_the_cases_are_unchanged():
    assert case_variants(SimpleCNN, "standard", "none") == [""]
    assert case_variants(SimpleCNN, "smoke", "batch") == ["batch=1", "batch=2", "batch=4"]


def test_a_sweep_point_builds_the_workload_at_its_batch_with_the_same_shapes_everywhere():
    from accelbench.backends.torch.devices import get_device

    spec = CaseSpec("torch", "cnn", "cpu", "infer", size="smoke", variant="batch=2")
    workload = SimpleCNN(spec, get_device("cpu"))
    assert workload.batch == 2
    assert workload.items_per_step == 2
    assert workload.shapes()["input"] == [2, 3, 32, 32]
    transformer = TransformerEncoderWorkload(
        CaseSpec("torch", "transformer", "cpu", "train", size="smoke", variant="batch=1"),
        get_device("cpu"),
    )
    assert transformer.shapes()["input"] == [1, 16]


class Clock:
    """A fake clock: each synchronized step "takes" ``step_s``."""

    def __init__(self, step_s: float) -> None:
        self.now, self.step_s = 0.0, step_s

    def __call__(self) -> float:
        return self.now

    def step(self) -> None:
        self.now += self.step_s


class Device:
    def __init__(self) -> None:
        self.syncs = 0

    def synchronize(self, result=None) -> None:
        self.syncs += 1


def test_isolated_latency_is_the_median_of_single_synchronized_steps():
    clock, device = Clock(3e-3), Device()
    figures = isolated_latency(clock.step, device, BUDGETS["smoke"], clock=clock)
    assert figures["latency_batch1_s"] == pytest.approx(3e-3)
    # 0.2 s of budget at 3 ms a step: bounded by the repeat cap, each step synchronized
    assert figures["latency_batch1_repeats"] == 20
    assert device.syncs == 20 + 1
    assert "one step, then synchronize" in figures["latency_mode"]


def test_isolated_latency_of_a_slow_step_stops_at_the_budget_after_three_repeats():
    clock = Clock(1.0)
    figures = isolated_latency(clock.step, Device(), BUDGETS["smoke"], clock=clock)
    assert figures["latency_batch1_repeats"] == 3


# Options and selection ---------------------------------------------------------------------


def test_an_unknown_sweep_is_a_usage_error(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest("--benchmark-only", "--sweep", "length")
    assert result.ret == USAGE_ERROR
    assert (
        result.stderr.lines[0] == "ERROR: --sweep: unknown value 'length'; choose from none, batch"
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_each_point_is_a_case_selectable_with_k(suite):
    add_benchmarks(suite, "test_cnn_torch.py", "test_ceiling.py")
    args = ["--collect-only", "-q", "--devices", "cpu", "--bench-size", "smoke"]
    result = suite.runpytest(*args, "--sweep", "batch", "-k", "cnn and infer and 4")
    result.stdout.fnmatch_lines(
        ["benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-infer-batch=4]", "1/* tests collected*"]
    )
    result = suite.runpytest(*args, "--sweep", "batch")
    result.stdout.fnmatch_lines(
        [
            "benchmarks/test_ceiling.py::test_ceiling[cpu-peak-matmul]",
            "benchmarks/test_ceiling.py::test_ceiling[cpu-peak-copy]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-batch=1]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-batch=2]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-train-batch=4]",
            "benchmarks/test_cnn_torch.py::test_cnn_torch[cpu-infer-batch=1]",
            "*",
            "8 tests collected*",
        ]
    )


# Whole sessions ----------------------------------------------------------------------------


def test_a_smoke_sweep_on_the_cpu_saves_every_point_the_latency_and_the_crossover_block(suite):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(
        *SMOKE, "--devices", "cpu", "--sweep", "batch", "--benchmark-json", "run.json"
    )
    result.assert_outcomes(passed=6)
    # No accelerator ran: the crossover column, "-" in every row, is folded away.
    result.stdout.fnmatch_lines(
        [
            "*accelbench summary*",
            "batch sweep: *",
            "case * phase * dtype * device * 90% at * latency b=1 * b=1 * b=2 * b=4",
            "torch cnn (images/s) * infer * fp32 * cpu * [0-9]* [0-9]* *s *",
            "torch cnn (images/s) * train * fp32 * cpu * [0-9]* - *",
        ]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    infos = {(b["extra_info"]["phase"], b["extra_info"]["variant"]): b for b in saved["benchmarks"]}
    assert set(infos) == {(p, f"batch={n}") for p in ("train", "infer") for n in (1, 2, 4)}
    for (_phase, variant), bench in infos.items():
        batch = int(variant.split("=")[1])
        assert bench["extra_info"]["shapes"]["batch"] == batch
        assert bench["extra_info"]["items_per_step"] == batch
    latency = infos["infer", "batch=1"]["extra_info"]
    assert latency["latency_batch1_s"] > 0
    assert latency["latency_mode"].startswith("isolated")
    assert "latency_batch1_s" not in infos["infer", "batch=2"]["extra_info"]
    assert "latency_batch1_s" not in infos["train", "batch=1"]["extra_info"]
    block = saved["accelbench"]["crossover"]
    assert [(r["phase"], r["device"], r["batches"]) for r in block] == [
        ("infer", "cpu", [1, 2, 4]),
        ("train", "cpu", [1, 2, 4]),
    ]
    assert block[0]["latency_batch1_s"] == latency["latency_batch1_s"]


FAKE_WORKLOAD = '''
    """A fake workload whose step takes a known time for its batch on the virtual clock."""

    from dataclasses import dataclass

    import numpy as np
    import pytest

    import virtualclock
    from accelbench.core.workload import Workload


    @dataclass(frozen=True)
    class Size:
        batch: int


    def step_seconds(device, batch):
        """CPU: 1 ms per item. GPU: 5 ms per step at batch 1, growing as sqrt(batch), so its
        speedup sqrt(batch) / 5 reaches 1 at batch 25."""
        return 1e-3 * batch if device == "cpu" else 5e-3 * batch**0.5


    class Fake(Workload):
        name = "fake"
        framework = "torch"
        phases = ("infer",)
        SIZES = {"smoke": Size(batch=8)}
        MAX_SWEEP_BATCH = {"smoke": 64}

        def step(self):
            if self.spec.device != "cpu" and self.batch >= 64:
                raise MemoryError("planted: batch 64 does not fit on this GPU")
            virtualclock.advance(step_seconds(self.spec.device, self.batch))

        def parity_outputs(self):
            return {"output": np.arange(self.batch, dtype=np.float32)}

        @property
        def items_per_step(self):
            return self.batch

        def shapes(self):
            return {"batch": self.batch}


    @pytest.mark.workload.with_args(Fake)
    def test_fake(measure):
        measure()
'''


def test_a_fake_gpu_with_known_step_times_crosses_where_the_speedup_reaches_one(suite, fake_mps):
    (suite.path / "benchmarks" / "test_fake.py").write_text(textwrap.dedent(FAKE_WORKLOAD))
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu,mps",
        "--sweep",
        "batch",
        "--benchmark-timer",
        "virtualclock.clock",
        "--benchmark-json",
        "run.json",
        "-rs",
    )
    result.assert_outcomes(passed=13, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "batch sweep: *",
            "torch fake (images/s) * infer * fp32 * mps * 25 (16-32) *",
            "not measured (1 case; every reason in full: -v):",
            "  mps: out of memory (1 case: torch fake batch=64 infer)",
        ]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    rows = {r["device"]: r for r in saved["accelbench"]["crossover"]}
    assert rows["cpu"]["batches"] == [1, 2, 4, 8, 16, 32, 64]
    assert rows["mps"]["batches"] == [1, 2, 4, 8, 16, 32]  # 64 skipped, the rest ran
    assert rows["mps"]["speedup_over_cpu"] == pytest.approx(
        [b**0.5 / 5 for b in [1, 2, 4, 8, 16, 32]], rel=1e-6
    )
    assert rows["mps"]["crossover_status"] == "crosses"
    assert rows["mps"]["crossover_between"] == [16, 32]
    assert rows["mps"]["crossover_batch"] == pytest.approx(25.0, rel=1e-6)
    assert rows["cpu"]["saturation_batch"] == 1  # 1 ms per item at every batch
    assert rows["mps"]["saturation_batch"] == 32  # throughput still rising at the largest
