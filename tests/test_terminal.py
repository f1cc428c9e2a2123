"""The terminal answer: the headline first, folded tables, a truthful header, units people
quote."""

from dataclasses import dataclass

import pytest
from fixtures.runs import ceiling, record

from accelbench.core.numbers import format_bandwidth, format_throughput
from accelbench.results import frameworks, speedups, views
from accelbench.results.record import parse_entries
from accelbench.results.section import Row, Section
from accelbench.results.text import (
    render_all,
    render_headline,
)

from conftest import SMOKE, add_benchmarks


def rows(records):
    return speedups.speedup_rows(parse_entries(records)[0])


def computed(records):
    return views.compute_all(parse_entries(records)[0])


def frameworks_table(records):
    return frameworks.render(frameworks.framework_rows(parse_entries(records)[0]))


def cpu_and_cuda_inference(workload, points):
    """A CPU and a CUDA inference record of ``workload`` per (variant, cpu_s, cuda_s)."""
    return [
        record(workload, device, "infer", seconds, variant=variant)
        for variant, cpu_s, cuda_s in points
        for device, seconds in (("cpu", cpu_s), ("cuda", cuda_s))
    ]


def test_the_headline_gives_each_accelerators_speedup_per_workload_and_phase():
    records = [
        record("resnet18", "cpu", "train", 0.50),
        record("resnet18", "cuda", "train", 0.0136),
        record("resnet18", "cpu", "infer", 0.16),
        record("resnet18", "cuda", "infer", 0.32),
    ]
    text = render_headline(computed(records), ["cuda"])
    assert text.splitlines()[1:] == [
        "  torch resnet18 infer fp32 smoke  cuda 0.5x (slower)",
        "  torch resnet18 train fp32 smoke  cuda 36.8x",
    ]


def test_a_sweep_is_headlined_at_its_longest_length_and_marks_show():
    records = cpu_and_cuda_inference(
        "attention", [("sdpa-L=128", 1e-3, 1e-4), ("sdpa-L=4096", 1.0, 1e-3)]
    )
    records[-1]["extra_info"]["flags"] = ["throttled"]
    (line,) = render_headline(computed(records), ["cuda"]).splitlines()[1:]
    assert line == "  torch attention infer fp32 smoke  sdpa-L=4096 cuda 1e+03x (throttled)"


def test_a_batch_sweep_is_headlined_at_its_largest_batch_on_each_accelerator():
    records = cpu_and_cuda_inference(
        "resnet18", [("batch=1", 1e-3, 2e-3), ("batch=64", 0.064, 2e-3)]
    )
    records.append(record("resnet18", "mps", "infer", 4e-3, variant="batch=1"))  # OOM at 64
    lines = render_headline(computed(records), ["cuda", "mps"]).splitlines()
    assert lines[1] == (
        "  torch resnet18 infer fp32 smoke  batch=1 mps 0.25x (slower), batch=64 cuda 32x"
    )
    assert lines[2].startswith("headline: the accelerator is faster than the CPU")  # crossover


def test_no_usable_accelerator_is_one_line_with_the_reasons_not_rows_of_dashes():
    records = [record("cnn", "cpu", "train", 0.01), record("cnn", "cpu", "infer", 0.003)]
    unusable = {
        "mps": ["MPS not available: no Apple GPU"],
        "cuda": ["CUDA not available: no usable NVIDIA GPU"],
    }
    assert render_headline(computed(records), ["mps", "cuda"], unusable) == (
        "headline: no accelerator was usable, so no speedup: cuda: CUDA not available: no "
        "usable NVIDIA GPU | mps: MPS not available: no Apple GPU"
    )
    table = speedups.render(rows(records))
    assert table.startswith("CPU only")
    assert " - " not in table


def test_only_the_cpu_asked_for_is_said_so():
    records = [record("cnn", "cpu", "train", 0.01)]
    assert render_headline(computed(records), []) == (
        "headline: only the CPU was asked for (--devices cpu): no speedup to give"
    )


def test_ceilings_are_in_tflops_and_bytes_per_second_in_gb_or_tb():
    assert format_bandwidth(4.22e12) == "4.22 TB/s"
    assert format_bandwidth(89.8e9) == "89.8 GB/s"
    assert format_bandwidth(3.07e8) == "307 MB/s"
    assert format_throughput(5110.0, "matmuls", tflops=0.686) == "0.686 TFLOP/s"
    assert format_throughput(6970.0, "images") == "6.97k images/s"
    text = speedups.render(rows(ceiling("cpu", 1.2, 40.0) + ceiling("cuda", 51.2, 4200)))
    assert "51.2 TFLOP/s" in text and "4.2 TB/s" in text and "40 GB/s" in text
    assert "matmuls/s" not in text and "bytes/s" not in text


def test_noisy_rows_are_marked_in_the_summary():
    noisy = record("cnn", "cpu", "train", 0.01, iqr=0.004)
    text = speedups.render(rows([noisy, record("cnn", "cuda", "train", 0.001)]))
    (row,) = [line for line in text.splitlines() if line.startswith("torch cnn")]
    assert row.endswith("cpu noisy")
    assert "noisy: IQR over 10% of the median" in text


@pytest.fixture
def two_workloads(suite):
    add_benchmarks(suite, "test_cnn_torch.py", "test_ceiling.py")
    return suite.runpytest(*SMOKE, "--devices", "cpu", "--bench-tables")


def test_one_pytest_benchmark_table_per_workload_with_bench_tables(two_workloads):
    two_workloads.assert_outcomes(passed=4)
    out = two_workloads.stdout.str()
    assert out.count("benchmark 'test_cnn_torch': 2 tests") == 1
    assert out.count("benchmark 'test_ceiling': 2 tests") == 1
    assert out.count("benchmark '") == 2


def test_the_header_says_how_the_suite_times_not_pytest_benchmarks_defaults(two_workloads):
    out = two_workloads.stdout.str()
    assert "min_rounds=5" not in out and "warmup=False" not in out
    two_workloads.stdout.fnmatch_lines(
        [
            "benchmark: * (timer=*); rounds, warm-up and iterations are set per case by "
            "accelbench, not by pytest-benchmark's defaults:",
            "  --bench-size smoke: untimed warm-up of at least 1 step, then 3-10 timed rounds*",
        ]
    )


def test_the_headline_is_the_last_thing_the_summary_says(two_workloads):
    lines = two_workloads.stdout.str().splitlines()
    start = next(i for i, line in enumerate(lines) if "accelbench summary" in line)
    said = [line for line in lines[start + 1 :] if line.strip() and not line.startswith("=")]
    assert said[-1] == "headline: only the CPU was asked for (--devices cpu): no speedup to give"


def test_a_run_without_an_accelerator_folds_the_empty_columns_of_every_section():
    """Not the speedups alone: the frameworks table of a CPU-only run has no "vs own cpu"
    columns of dashes either; with an accelerator measured, nothing is folded."""
    cpu_only = [
        record("cnn", "cpu", "train", 0.04),
        record("cnn", "cpu", "train", 0.02, framework="tf"),
    ]
    printed = render_all(computed(cpu_only))
    assert "torch/tf" in printed and "vs own cpu" not in printed and " - " not in printed
    with_gpu = [*cpu_only, record("cnn", "cuda", "train", 0.004)]
    assert "vs own cpu" in render_all(computed(with_gpu))


@dataclass(frozen=True)
class SustainedRow(Row):
    device: str
    sustained: float


def test_a_section_added_to_sections_is_printed_and_may_add_headline_lines(monkeypatch):
    """A view registered in views.SECTIONS (as crossover, modes, data_parallel were) is one
    object: its rows, saved and read back by its row type, its table and, where it has one,
    its headline lines, which join the headline after the speedups, in SECTIONS order."""

    def sustained_rows(records):
        return [SustainedRow(records[0].key.replace(device=""), "mps", 0.91)]

    def table(rows):
        return "\n".join(f"{r.device} keeps {r.sustained:.0%}" for r in rows)

    def headline(rows):
        return [f"  {rows[0].device} keeps {rows[0].sustained:.0%} of its speed after 10 minutes"]

    section = Section("sustained", SustainedRow, sustained_rows, table, headline)
    monkeypatch.setattr(views, "SECTIONS", (*views.SECTIONS, section))
    records = [record("cnn", "cpu", "train", 0.05), record("cnn", "cuda", "train", 0.001)]
    summary = computed(records)
    assert list(summary)[-1] == "sustained" and "energy" in summary
    assert summary["sustained"][0]["sustained"] == 0.91
    assert summary["sustained"][0]["workload"] == "cnn"
    lines = render_headline(summary, ["cuda"]).splitlines()
    assert lines[1:] == [
        "  torch cnn train fp32 smoke  cuda 50x",
        "  mps keeps 91% of its speed after 10 minutes",
    ]
    assert render_all(summary).endswith("\n\nmps keeps 91%")


def test_a_section_saved_by_a_newer_suite_is_printed_as_a_plain_table():
    records = [record("cnn", "cpu", "train", 0.05)]
    summary = {**computed(records), "sustained": [{"workload": "resnet18", "sustained": 0.91}]}
    assert render_all(summary).endswith(
        "sustained\nworkload  sustained\n--------  ---------\nresnet18  0.91"
    )


def test_the_frameworks_table_gives_ceilings_in_tflops_and_bytes_per_second():
    records = ceiling("cpu", 1.2, 40.0) + ceiling("cpu", 0.6, 20.0, framework="mlx")
    frameworks = frameworks_table(records)
    assert "1.2 TFLOP/s" in frameworks and "0.6 TFLOP/s" in frameworks
    assert "40 GB/s" in frameworks and "20 GB/s" in frameworks
    assert "matmuls/s" not in frameworks and "bytes/s" not in frameworks
