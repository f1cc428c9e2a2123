"""One typed record per saved benchmark, checked once when it is read."""

from __future__ import annotations

import pytest
from fixtures.runs import record

from accelbench.core.spec import CaseSpec
from accelbench.results.record import Unusable, parse_entry


def test_a_saved_entry_reads_into_its_identity_stats_and_figures():
    r = parse_entry(record("cnn", "cuda", "train", 5e-4, flops=10**10, bytes_moved=2**20))
    assert r.key == CaseSpec(
        framework="torch",
        workload="cnn",
        phase="train",
        device="cuda",
        dtype="fp32",
        size="smoke",
        mode="eager",  # saved before cases had a mode
    )
    assert r.stats.median == 5e-4 and r.stats.rounds == 10
    assert r.throughput_per_s == pytest.approx(64 / 5e-4)
    assert r.tflops_per_s == pytest.approx(20.0)
    assert r.bytes_per_s == pytest.approx(2**20 / 5e-4)
    assert r.device_label == "NVIDIA H200 (CUDA)"
    assert not r.noisy and not r.partial


def test_identities_differ_field_by_field():
    smoke = CaseSpec("torch", "cnn", "cpu", "train", dtype="fp32", size="smoke")
    assert smoke.differences(smoke) == []
    assert smoke.differences(smoke.replace(size="standard", mode="compile")) == [
        "size smoke -> standard",
        "mode eager -> compile",
    ]
    assert smoke.case == smoke.replace(device="")


def test_noisy_is_an_iqr_over_a_tenth_of_the_median_and_flags_travel_with_the_record():
    quiet = parse_entry(record("cnn", "cpu", "train", 1.0, iqr=0.1))
    noisy_entry = record("cnn", "cpu", "train", 1.0, iqr=0.11)
    noisy_entry["extra_info"]["flags"] = ["busy"]
    noisy = parse_entry(noisy_entry, partial=True)
    assert not quiet.noisy
    assert noisy.noisy and noisy.partial and noisy.flags == {"noisy", "partial", "busy"}


def test_the_conditions_a_case_ran_under_are_its_condition_flags_and_marks():
    entry = record("cnn", "cpu", "train", 1.0, iqr=0.5)
    entry["extra_info"]["flags"] = ["throttled", "busy", "something-newer"]
    r = parse_entry(entry, partial=True)
    assert r.condition_flags == ("busy", "throttled")  # in the order warnings are given
    assert r.marks == ("noisy", "busy", "throttled")  # partial is the run's, not a mark


def test_energy_reads_into_a_typed_value_or_the_reason_there_is_none():
    entry = record("cnn", "cuda", "train", 0.01)
    entry["extra_info"]["energy"] = {
        "measured": True,
        "source": "NVML total energy counter (whole board)",
        "joules_per_step": 2.5,
        "items_per_joule": 25.6,
        "mean_power_w": 250.0,
        "window_s": 1.5,
        "coarse": False,
        "counter_vs_power_instant": 1.01,
        "joules": 375.0,  # saved, not needed on the read side
    }
    energy = parse_entry(entry).energy
    assert energy.measured and energy.items_per_joule == 25.6 and energy.counter_check == 1.01
    entry["extra_info"]["energy"] = {"measured": False, "reason": "energy not measured: why"}
    energy = parse_entry(entry).energy
    assert not energy.measured and energy.reason == "energy not measured: why"
    del entry["extra_info"]["energy"]
    assert parse_entry(entry).energy is None  # runs saved before energy was counted


def test_an_entry_without_the_suites_extra_info_has_statistics_only():
    plain = record("cnn", "cpu", "train", 1.0)
    plain["extra_info"] = {}
    r = parse_entry(plain)
    assert r.key is None and not r.measured and r.stats.median == 1.0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e["stats"].update(median=True), "stats.median is a boolean, not a number"),
        (lambda e: e["stats"].update(median=0), "stats.median is 0: no time was measured"),
        (lambda e: e["stats"].update(median=-1.0), "stats.median is negative (-1)"),
        (lambda e: e["stats"].pop("median"), "stats.median is missing"),
        (lambda e: e["stats"].pop("q3"), "stats has one quartile without the other"),
        (lambda e: e.update(stats=[1, 2]), "stats is a list, not an object"),
        (lambda e: e.update(fullname=7), "fullname is int, not a string"),
        (lambda e: e["extra_info"].update(phase=None), "extra_info.phase is null, not a string"),
        (lambda e: e["extra_info"].update(memory=[]), "extra_info.memory is a list, not an object"),
        (lambda e: e["extra_info"].update(flags="busy"), "extra_info.flags is a string ('busy')"),
        (lambda e: e["extra_info"].update(energy=3.0), "extra_info.energy is float, not an object"),
        (
            lambda e: e["extra_info"].update(energy={"measured": "yes"}),
            "extra_info.energy.measured is a string ('yes'), not true or false",
        ),
        (
            lambda e: e["extra_info"].update(energy={"measured": True, "joules_per_step": 2.0}),
            "extra_info.energy is measured without joules_per_step or items_per_joule",
        ),
        (
            lambda e: e["extra_info"].update(throughput_per_s=float("nan")),
            "extra_info.throughput_per_s is not finite (nan)",
        ),
        (
            lambda e: e["extra_info"].update(items_per_step=1e31),
            "extra_info.items_per_step is 1e+31, beyond 1e+30",
        ),
    ],
)
def test_a_bad_field_makes_the_entry_unusable_with_a_reason(change, reason):
    entry = record("cnn", "cpu", "train", 1.0)
    change(entry)
    with pytest.raises(Unusable) as excinfo:
        parse_entry(entry)
    assert str(excinfo.value).startswith(reason)
