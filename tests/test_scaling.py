"""The scaling summary: how time grows with sequence length, per device and implementation."""

import json

import pytest

from accelbench.core.spec import batch_variant, length_variant, parse_length_variant
from accelbench.results import text, views
from accelbench.results.figures import (
    MIN_FIT_POINTS,
    fit_exponent,
    longer_half,
    longer_half_exponent,
    trusted_exponent,
)
from accelbench.results.record import parse_entries
from accelbench.results.scaling import SCALING

from conftest import SMOKE, add_benchmarks


def record(device, variant, median_s, phase="infer", workload="attention", iqr_share=0.01):
    """One entry shaped like pytest-benchmark's saved JSON, as the plugin writes it."""
    return {
        "fullname": f"benchmarks/test_{workload}.py::test_{workload}[{device}-{phase}-{variant}]",
        "stats": {"median": median_s, "iqr": iqr_share * median_s},
        "extra_info": {
            "framework": "torch",
            "workload": workload,
            "device": device,
            "device_label": f"a {device}",
            "phase": phase,
            "dtype": "fp32",
            "size": "standard",
            "variant": variant,
            "tflops_per_s": 1.0,
        },
    }


def scaling_rows(entries):
    """The scaling section of saved entries, as the run's ``accelbench`` block saves it."""
    return SCALING.saved(SCALING.rows(parse_entries(entries)[0]))


def render_scaling(saved_rows):
    """The section's table, from its rows as saved."""
    return SCALING.text(SCALING.load(saved_rows))


def curve(device, implementation, seconds_at):
    return [record(device, length_variant(implementation, n), seconds_at(n)) for n in LENGTHS]


LENGTHS = [128, 256, 512, 1024, 2048]


@pytest.mark.parametrize("power", [1.0, 2.0, 3.0])
def test_a_power_law_fits_its_exponent(power):
    times = [3e-9 * n**power for n in LENGTHS]
    assert fit_exponent(LENGTHS, times) == pytest.approx(power, abs=1e-9)


def test_no_exponent_without_two_distinct_lengths():
    assert fit_exponent([128], [1.0]) is None
    assert fit_exponent([128, 128], [1.0, 2.0]) is None
    assert fit_exponent([128, 256], [1.0, 0.0]) is None


def test_the_longer_half_fit_sees_the_power_law_past_a_flat_launch_cost():
    """A GPU step at short lengths costs its launches whatever L is: the fit over all
    lengths is dragged down, the fit over the longer half is not."""
    lengths = [128, 256, 512, 1024, 2048, 4096]
    times = [max(80e-6, 3e-10 * n**2) for n in lengths]
    rows = scaling_rows(
        [record("cuda", length_variant("naive", n), t) for n, t in zip(lengths, times)]
    )
    (row,) = rows
    assert row["exponent"] < 1.5
    assert row["exponent_long"] == pytest.approx(2.0)
    assert longer_half(lengths, times) == (lengths[3:], times[3:])
    assert longer_half([64, 128, 256], [1, 2, 3]) == ([128, 256], [2, 3])


def test_no_exponent_through_fewer_than_three_points():
    assert MIN_FIT_POINTS == 3
    assert trusted_exponent([64, 128], [1.0, 4.0], [False, False]) is None
    assert trusted_exponent([64, 128, 256], [1.0, 4.0, 16.0], [False] * 3) == pytest.approx(2.0)


def test_noisy_and_busy_points_are_left_out_of_the_fit_and_starred():
    """A busy machine made one point 150 times slower: the fit goes through the others."""
    records = curve("cpu", "naive", lambda n: 1e-9 * n**2)
    records[1]["stats"]["median"] *= 150  # L=256, measured while other programs ran
    records[1]["extra_info"]["flags"] = ["busy"]
    records[3]["stats"]["iqr"] = 0.5 * records[3]["stats"]["median"]  # L=1024, noisy
    (row,) = scaling_rows(records)
    assert row["flagged"] == [False, True, False, True, False]
    assert row["exponent"] == pytest.approx(2.0)  # through L=128, 512 and 2048
    assert row["exponent_long"] is None  # the longer half keeps 512 and 2048 only
    rendered = render_scaling([row])
    assert "*" in rendered.splitlines()[3]  # the row, after the title, header and rule
    assert "leaving out the points marked *" in rendered


def test_the_longer_half_exponent_has_one_rule_for_the_summary_and_the_report():
    """Under five lengths the longer half is under three points: no exponent there, in the
    summary's scaling rows and in the report's attention series alike."""
    assert longer_half_exponent([64, 128, 256], [1.0, 4.0, 16.0]) is None
    assert longer_half_exponent([64, 128, 256, 512], [1.0, 4.0, 16.0, 64.0]) is None
    lengths = [64, 128, 256, 512, 1024]
    assert longer_half_exponent(lengths, [n**2 for n in lengths]) == pytest.approx(2.0)
    entries = [record("cpu", length_variant("naive", n), 1e-9 * n**2) for n in (64, 128, 256)]
    (row,) = scaling_rows(entries)
    (series,) = views.attention_series(parse_entries(entries)[0])
    assert row["exponent_long"] is None and series.slope_longer_half is None
    assert row["exponent"] == series.slope == pytest.approx(2.0)


def test_variant_names_round_trip_and_others_name_no_length():
    assert length_variant("sdpa", 4096) == "sdpa-L=4096"
    assert parse_length_variant("naive-L=128") == ("naive", 128)
    assert parse_length_variant("") is None
    assert parse_length_variant("resnet") is None
    with pytest.raises(ValueError):
        length_variant("has space", 1)


def test_rows_give_medians_exponent_and_speedup_over_the_cpu_at_each_length():
    records = (
        curve("cpu", "naive", lambda n: 1e-9 * n**2)
        + curve("cuda", "naive", lambda n: 1e-11 * n**2)
        + curve("cpu", "sdpa", lambda n: 2e-9 * n**2)
        + curve("cuda", "sdpa", lambda n: 4e-9 * n)
    )
    rows = {(r["device"], r["implementation"]): r for r in scaling_rows(records)}
    assert set(rows) == {("cpu", "naive"), ("cuda", "naive"), ("cpu", "sdpa"), ("cuda", "sdpa")}

    cuda_naive = rows["cuda", "naive"]
    assert cuda_naive["lengths"] == LENGTHS
    assert cuda_naive["median_s"] == pytest.approx([1e-11 * n**2 for n in LENGTHS])
    assert cuda_naive["exponent"] == pytest.approx(2.0)
    assert cuda_naive["exponent_long"] == pytest.approx(2.0)
    assert cuda_naive["speedup_over_cpu"] == pytest.approx([100.0] * len(LENGTHS))
    assert rows["cuda", "sdpa"]["exponent"] == pytest.approx(1.0)
    assert rows["cuda", "sdpa"]["speedup_over_cpu"] == pytest.approx([n / 2 for n in LENGTHS])
    assert rows["cpu", "naive"]["speedup_over_cpu"] is None
    json.dumps(rows["cuda", "sdpa"])  # lands in the saved JSON as it is


def test_length_sweeps_at_different_batches_are_separate_curves():
    """``sdpa-L=1024-batch=16`` is a point of the curve ``sdpa-batch=16``: the batch is part
    of the curve, the length its axis, and each batch's CPU is its own reference."""
    records = []
    for batch in (1, 16):
        for device, scale in (("cpu", 1e-9), ("cuda", 1e-11)):
            records += [
                record(device, batch_variant(length_variant("sdpa", n), batch), scale * batch * n)
                for n in LENGTHS
            ]
    rows = {(r["device"], r["implementation"]): r for r in scaling_rows(records)}
    assert sorted(rows) == [
        ("cpu", "sdpa-batch=1"),
        ("cpu", "sdpa-batch=16"),
        ("cuda", "sdpa-batch=1"),
        ("cuda", "sdpa-batch=16"),
    ]
    cuda16 = rows["cuda", "sdpa-batch=16"]
    assert cuda16["lengths"] == LENGTHS
    assert cuda16["median_s"] == pytest.approx([1e-11 * 16 * n for n in LENGTHS])
    assert cuda16["exponent"] == pytest.approx(1.0)
    assert cuda16["speedup_over_cpu"] == pytest.approx([100.0] * len(LENGTHS))


def test_a_length_missing_on_the_cpu_has_no_speedup():
    records = [*curve("cuda", "naive", lambda n: 0.001), record("cpu", "naive-L=128", 0.01)]
    (cuda,) = [r for r in scaling_rows(records) if r["device"] == "cuda"]
    assert cuda["speedup_over_cpu"] == [pytest.approx(10.0)] + [None] * (len(LENGTHS) - 1)


def test_phases_are_separate_curves_and_records_without_a_length_are_left_out():
    records = curve("cpu", "naive", lambda n: 1e-9 * n**2)
    records += [record("cpu", "naive-L=128", 5.0, phase="train")]
    records += [record("cpu", "", 1.0, workload="cnn"), {"stats": {"median": 1.0}}]
    rows = scaling_rows(records)
    assert [(r["phase"], len(r["lengths"])) for r in rows] == [
        ("infer", len(LENGTHS)),
        ("train", 1),
    ]
    assert rows[1]["exponent"] is None
    assert rows[1]["exponent_long"] is None


def test_rendered_table_has_one_column_per_length_and_the_fitted_exponent():
    records = curve("cpu", "naive", lambda n: 1e-6 * n**2) + curve(
        "cuda", "naive", lambda n: 1e-8 * n**2
    )
    text = render_scaling(scaling_rows(records))
    lines = text.splitlines()
    assert "exponent" in lines[1]
    assert "longer half" in lines[1]
    assert all(f"L={n}" in lines[1] for n in LENGTHS)
    cuda_line = next(line for line in lines if " cuda " in line)
    assert "2.00" in cuda_line
    assert "100.00x" in cuda_line
    assert render_scaling([]) == ""


def test_the_summary_saves_and_prints_the_scaling_section():
    records = curve("cpu", "sdpa", lambda n: 1e-9 * n**2)
    computed = views.compute_all(parse_entries(records)[0])
    assert computed["scaling"] == scaling_rows(records)
    assert "scaling with sequence length" in text.render_all(computed)


def test_smoke_session_of_transformer_and_attention_saves_and_prints_the_scaling(suite, fake_mps):
    """Both benchmark files on the CPU and a stand-in MPS device (CPU tensors, so parity
    is checked end to end): every case runs, and the sweep ends in the scaling table."""
    add_benchmarks(suite, "test_transformer.py", "test_attention.py")
    result = suite.runpytest(
        *SMOKE,
        "--devices",
        "cpu,mps",
        "--frameworks",
        "torch",
        "--benchmark-json",
        "run.json",
    )
    result.assert_outcomes(passed=2 * (2 + 8))
    result.stdout.fnmatch_lines(
        [
            "*accelbench summary*",
            "*torch transformer*train*fp32*tokens/s*",
            "*scaling with sequence length*",
            "*torch attention*infer*fp32*mps*naive*x*",
        ]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    infos = [b["extra_info"] for b in saved["benchmarks"]]
    for info in infos:
        assert info["item_unit"] == "tokens"
        assert info["throughput_per_s"] > 0
        if info["device"] == "mps":
            assert info["parity_max_rel_error"] <= info["parity_tolerance"]
    transformer = [i for i in infos if i["workload"] == "transformer"]
    assert all(
        i["items_per_step"] < i["shapes"]["batch"] * i["shapes"]["input"][1] for i in transformer
    )

    rows = saved["accelbench"]["scaling"]
    curves = {(r["device"], r["phase"], r["implementation"]) for r in rows}
    assert len(curves) == len(rows) == 2 * 2 * 2
    for r in rows:
        assert r["lengths"] == [64, 128]
        assert r["exponent"] is None  # two lengths: a line through any two points means nothing
        if r["device"] == "mps":
            assert all(s > 0 for s in r["speedup_over_cpu"])
