"""The crossover: from which batch the accelerator's time per item stays below the CPU's.

Speedups that follow a power law of the batch are straight lines on log-log axes, so the
interpolated crossover is exact and every expected value follows from the inputs.
"""

import json
import math

import pytest
from fixtures.runs import record

from accelbench.core.spec import batch_variant
from accelbench.results import text, views
from accelbench.results.crossover import (
    ALWAYS,
    CROSSES,
    CROSSOVER,
    NEVER,
    find_crossover,
    interpolate_log_log,
    saturation_batch,
)
from accelbench.results.record import parse_entries

BATCHES = [1, 2, 4, 8, 16, 32, 64]


def crossover_rows(entries):
    """The crossover section of saved entries, as the run's ``accelbench`` block saves it."""
    return CROSSOVER.saved(CROSSOVER.rows(parse_entries(entries)[0]))


def render_crossover(saved_rows):
    """The section's table, from its rows as saved."""
    return CROSSOVER.text(CROSSOVER.load(saved_rows))


def test_a_power_law_speedup_crosses_exactly_where_it_reaches_one():
    """speedup = sqrt(b) / 5 reaches 1 at b = 25, between the measured 16 and 32."""
    found = find_crossover(BATCHES, [math.sqrt(b) / 5 for b in BATCHES])
    assert found.status == CROSSES
    assert found.batch == pytest.approx(25.0)
    assert found.between == (16, 32)
    assert found.faster_below == ()


def test_interpolation_is_linear_in_log_batch_and_log_speedup():
    # speedup 0.5 at 8, 2 at 32: halfway in log space on both axes, so the crossing is 16
    assert interpolate_log_log(8, 0.5, 32, 2.0) == pytest.approx(16.0)
    # a speedup of exactly 1 at the lower point crosses there
    assert interpolate_log_log(8, 1.0, 16, 3.0) == pytest.approx(8.0)


def test_faster_at_every_batch_is_always_faster():
    found = find_crossover(BATCHES, [1.01 * b for b in BATCHES])
    assert (found.status, found.batch, found.between) == (ALWAYS, None, None)


def test_faster_from_the_second_batch_on_crosses_between_the_first_two():
    found = find_crossover([1, 2, 4], [0.5, 2.0, 4.0])
    assert found.status == CROSSES
    assert found.between == (1, 2)
    assert found.batch == pytest.approx(2**0.5)


def test_never_faster_in_the_measured_range():
    assert find_crossover(BATCHES, [0.01 * b for b in BATCHES]).status == NEVER


def test_a_tie_at_the_largest_batch_is_not_faster():
    assert find_crossover([1, 2, 4], [0.5, 0.8, 1.0]).status == NEVER


def test_noisy_data_crosses_past_the_last_batch_where_the_accelerator_was_not_faster():
    """Faster at 2 and 4, slower again at 8 (noise or a dip), faster from 16 on: the
    accelerator *stays* faster only from between 8 and 16, and the early wins are listed."""
    speedups = [0.5, 1.2, 1.1, 0.8, 1.25, 2.0, 3.0]
    found = find_crossover(BATCHES, speedups)
    assert found.status == CROSSES
    assert found.between == (8, 16)
    assert found.faster_below == (2, 4)
    expected = math.exp(
        math.log(8) + (0 - math.log(0.8)) * math.log(2) / (math.log(1.25) - math.log(0.8))
    )
    assert found.batch == pytest.approx(expected)
    assert 8 < found.batch < 16


def test_a_single_slower_point_at_the_end_means_never_faster():
    assert find_crossover(BATCHES, [2, 2, 2, 2, 2, 2, 0.9]).status == NEVER


def test_a_crossover_needs_ascending_batches_with_one_speedup_each():
    with pytest.raises(ValueError):
        find_crossover([], [])
    with pytest.raises(ValueError):
        find_crossover([2, 1], [1.0, 2.0])
    with pytest.raises(ValueError):
        find_crossover([1, 2], [1.0])


def test_saturation_is_the_first_measured_batch_at_ninety_percent_of_the_best():
    throughputs = [10, 19, 35, 60, 89, 95, 100]
    assert saturation_batch(BATCHES, throughputs) == 32  # 89 is under 90% of 100
    assert saturation_batch(BATCHES, [10, 19, 35, 60, 90, 95, 100]) == 16
    assert saturation_batch(BATCHES, [100, 50, 50, 50, 50, 50, 50]) == 1
    assert saturation_batch([], []) is None


def sweep(device, seconds_at, phase="infer", framework="torch", batches=BATCHES, **kw):
    """One device's batch sweep: at batch b one step takes seconds_at(b) for b images."""
    return [
        record(
            "cnn",
            device,
            phase,
            seconds_at(b),
            variant=batch_variant("", b),
            items=b,
            framework=framework,
            **kw,
        )
        for b in batches
    ]


def test_rows_give_throughput_saturation_and_the_accelerators_crossover():
    """CPU: 1 ms per image whatever the batch. GPU: 5 ms per step up to b = 64, then time
    grows with the batch; its speedup b/5 crosses 1 at b = 5, between 4 and 8."""
    cpu = sweep("cpu", lambda b: 1e-3 * b)
    cuda = sweep("cuda", lambda b: 5e-3)
    cpu[0]["extra_info"]["latency_batch1_s"] = 2e-3
    rows = {r["device"]: r for r in crossover_rows(cpu + cuda)}
    assert list(rows) == ["cpu", "cuda"]

    assert rows["cpu"]["batches"] == BATCHES
    assert rows["cpu"]["throughput_per_s"] == pytest.approx([1000.0] * 7)
    assert rows["cpu"]["saturation_batch"] == 1
    assert rows["cpu"]["latency_batch1_s"] == 2e-3
    assert rows["cpu"]["crossover_status"] is None
    assert rows["cpu"]["variant"] == ""

    cuda_row = rows["cuda"]
    assert cuda_row["throughput_per_s"] == pytest.approx([b / 5e-3 for b in BATCHES])
    assert cuda_row["saturation_batch"] == 64
    assert cuda_row["latency_batch1_s"] is None  # not measured in this record
    assert cuda_row["speedup_over_cpu"] == pytest.approx([b / 5 for b in BATCHES])
    assert cuda_row["crossover_status"] == CROSSES
    assert cuda_row["crossover_between"] == [4, 8]
    assert cuda_row["crossover_batch"] == pytest.approx(5.0)
    json.dumps(cuda_row)  # lands in the saved JSON as it is


def test_speedups_use_time_per_item_and_only_batches_both_devices_measured():
    """Token counts may differ between batches, never between devices at one batch; a batch
    the accelerator skipped (out of memory) has no speedup."""
    cpu = sweep("cpu", lambda b: 1e-3 * b)
    cuda = sweep("cuda", lambda b: 2e-3 * b, batches=BATCHES[:-1])
    (cuda_row,) = [r for r in crossover_rows(cpu + cuda) if r["device"] == "cuda"]
    assert cuda_row["speedup_batches"] == BATCHES[:-1]
    assert cuda_row["speedup_over_cpu"] == pytest.approx([0.5] * 6)
    assert cuda_row["crossover_status"] == NEVER


def test_frameworks_phases_and_other_variants_are_separate_curves():
    records = sweep("cpu", lambda b: 1e-3 * b) + sweep("cuda", lambda b: 1e-4 * b)
    records += sweep("cpu", lambda b: 1e-3 * b, framework="tf", phase="train")
    records += sweep("cuda", lambda b: 1e-2, framework="tf", phase="train")
    records += [record("cnn", "cpu", "infer", 1.0), record("cnn", "cuda", "infer", 0.1)]
    records.append(
        record("attention", "cpu", "infer", 1.0, variant="sdpa-L=1024-batch=2", items=2048)
    )
    rows = crossover_rows(records)
    keys = [(r["framework"], r["workload"], r["variant"], r["phase"], r["device"]) for r in rows]
    assert keys == [
        ("tf", "cnn", "", "train", "cpu"),
        ("tf", "cnn", "", "train", "cuda"),
        ("torch", "attention", "sdpa-L=1024", "infer", "cpu"),
        ("torch", "cnn", "", "infer", "cpu"),
        ("torch", "cnn", "", "infer", "cuda"),
    ]
    statuses = {(r["framework"], r["device"]): r["crossover_status"] for r in rows}
    assert statuses[("torch", "cuda")] == ALWAYS
    assert statuses[("tf", "cuda")] == CROSSES


def test_an_accelerator_without_a_cpu_sweep_has_no_crossover():
    (row,) = crossover_rows(sweep("cuda", lambda b: 1e-3))
    assert row["crossover_status"] is None
    assert row["speedup_over_cpu"] == []


def test_the_summary_section_names_crossover_saturation_and_latency():
    cpu = sweep("cpu", lambda b: 1e-3 * b)
    cpu[0]["extra_info"]["latency_batch1_s"] = 2e-3
    records = cpu + sweep("cuda", lambda b: 5e-3)
    computed = views.compute_all(parse_entries(records)[0])
    assert computed["crossover"] == crossover_rows(records)
    lines = text.render_all(computed).split("batch sweep:", 1)[1].splitlines()
    header = next(line for line in lines if line.startswith("case"))
    assert header.split() == [
        "case",
        "phase",
        "dtype",
        "device",
        "crossover",
        "90%",
        "at",
        "latency",
        "b=1",
        *(f"b={b}" for b in BATCHES),
    ]
    cuda = next(line for line in lines if "cuda" in line)
    assert "5 (4-8)" in cuda
    assert "0.20x" in cuda and "12.80x" in cuda
    cpu_line = next(line for line in lines if " cpu " in line)
    assert "2 ms" in cpu_line


def test_the_headline_gives_each_accelerators_crossover_after_its_speedups():
    """The crossover section has a headline of its own (``Section.headline``): the
    summary's first lines say from which batch the accelerator wins, not only its speedup
    at the largest batch."""
    records = sweep("cpu", lambda b: 1e-3 * b) + sweep("cuda", lambda b: 5e-3)
    records += sweep("mps", lambda b: 1e-4 * b)  # always faster: 10x at every batch
    computed = views.compute_all(parse_entries(records)[0])
    lines = text.render_headline(computed, ["cuda", "mps"]).splitlines()
    first = lines.index("headline: the accelerator is faster than the CPU (batch sweep, per item)")
    assert lines[1:first] == ["  torch cnn infer fp32 smoke  batch=64 mps 10x, batch=64 cuda 12.8x"]
    assert lines[first + 1 :] == [
        "  torch cnn infer fp32 smoke  mps always faster (1-64), cuda from batch 5 (4-8)"
    ]


def test_noisy_rows_are_marked_in_the_summary():
    speedups = [0.5, 1.2, 1.1, 0.8, 1.25, 2.0, 3.0]
    records = sweep("cpu", lambda b: 1e-3 * b)
    records += sweep("cuda", lambda b: 1e-3 * b / speedups[BATCHES.index(b)])
    rendered = render_crossover(crossover_rows(records))
    assert "(8-16) *" in rendered
    assert "* faster at some smaller batch too" in rendered


def test_bar_charts_keep_a_grid_sweep_at_its_longest_length_and_largest_batch():
    """A case swept over length and batch at once (``sdpa-L=128-batch=4``) shows in the bar
    charts at one point per device: the longest length at the largest batch."""
    entries = [
        record(
            "attention",
            device,
            "infer",
            1e-3,
            variant=batch_variant(f"sdpa-L={n}", b),
            items=b * n,
            item_unit="tokens",
        )
        for device in ("cpu", "cuda")
        for n in (64, 128)
        for b in (1, 2, 4)
    ]
    entries.append(record("cnn", "cpu", "infer", 1e-3))  # no sweep: always shown
    rows = views.case_rows(parse_entries(entries)[0])
    kept = [(r.key.workload, r.key.variant, r.device) for r in views.bar_rows(rows)]
    assert sorted(kept) == [
        ("attention", "sdpa-L=128-batch=4", "cpu"),
        ("attention", "sdpa-L=128-batch=4", "cuda"),
        ("cnn", "", "cpu"),
    ]


def test_a_latency_that_is_not_a_time_makes_the_entry_unusable_with_one_line():
    bad = sweep("cpu", lambda b: 1e-3 * b)
    bad[0]["extra_info"]["latency_batch1_s"] = "fast"
    records, problems = parse_entries(bad)
    assert len(records) == len(BATCHES) - 1
    (problem,) = problems
    assert "extra_info.latency_batch1_s is a string ('fast'), not a number" in problem
