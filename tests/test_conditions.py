"""The conditions a case ran under: recorded, judged, and said where people look."""

import json

import pytest

from accelbench.__main__ import main
from accelbench.core import conditions
from accelbench.core.conditions import (
    BUSY,
    LOW_POWER,
    ON_BATTERY,
    THROTTLED,
    CpuSnapshot,
    busy_threshold_cores,
    cpu_window,
    judge,
    parse_pmset_batt,
    parse_pmset_settings,
    parse_pmset_therm,
    with_verdict,
    without_sibling_workers,
)

from conftest import SMOKE, add_benchmarks

# Captured `pmset` outputs (macOS 14 on Apple Silicon, and an Intel MacBook Pro under load).
PMSET_BATT_AC = (
    "Now drawing from 'AC Power'\n"
    " -InternalBattery-0 (id=12345667)\t100%; charged; 0:00 remaining present: true\n"
)
PMSET_BATT_BATTERY = (
    "Now drawing from 'Battery Power'\n"
    " -InternalBattery-0 (id=24313955)\t16%; discharging; 2:08 remaining present: true\n"
)
PMSET_BATT_DESKTOP = "Now drawing from 'AC Power'\n"
PMSET_G = """System-wide power settings:
Currently in use:
 standby              1
 Sleep On Power Button 1
 hibernatefile        /var/vm/sleepimage
 powernap             1
 networkoversleep     0
 disksleep            10
 sleep                1 (sleep prevented by powerd)
 hibernatemode        3
 ttyskeepawake        1
 displaysleep         10
 tcpkeepalive         1
 lowpowermode         {lpm}
 womp                 1
"""
PMSET_G_ENERGY_MODE = """System-wide power settings:
Currently in use:
 standby              1
 powermode            {mode}
 displaysleep         10
"""
PMSET_THERM_IDLE = """Note: No thermal warning level has been recorded
Note: No performance warning level has been recorded
Note: No CPU power status has been recorded
"""
PMSET_THERM_THROTTLED = """Note: No thermal warning level has been recorded
Note: No performance warning level has been recorded
2020-11-06 08:26:45 +1000 CPU Power notify
\tCPU_Scheduler_Limit \t= 100
\tCPU_Available_CPUs \t= 8
\tCPU_Speed_Limit \t= 73
"""
PMSET_THERM_WARNING = "Thermal warning level set to 2.\nPerformance warning level set to 0.\n"


def test_pmset_batt_gives_the_power_source_and_the_battery_level():
    assert parse_pmset_batt(PMSET_BATT_AC) == {
        "power_source": "AC Power",
        "on_battery": False,
        "battery_percent": 100,
    }
    assert parse_pmset_batt(PMSET_BATT_BATTERY)["on_battery"] is True
    assert parse_pmset_batt(PMSET_BATT_BATTERY)["battery_percent"] == 16
    assert parse_pmset_batt(PMSET_BATT_DESKTOP) == {"power_source": "AC Power", "on_battery": False}
    assert parse_pmset_batt("") == {}


def test_pmset_settings_give_low_power_mode_old_and_new():
    assert parse_pmset_settings(PMSET_G.format(lpm=1)) == {"low_power_mode": True}
    assert parse_pmset_settings(PMSET_G.format(lpm=0)) == {"low_power_mode": False}
    assert parse_pmset_settings(PMSET_G_ENERGY_MODE.format(mode=1)) == {
        "energy_mode": "low power",
        "low_power_mode": True,
    }
    assert parse_pmset_settings(PMSET_G_ENERGY_MODE.format(mode=2)) == {
        "energy_mode": "high power",
        "low_power_mode": False,
    }
    assert parse_pmset_settings(" standby 1\n") == {}


def test_pmset_settings_read_only_the_settings_in_use():
    custom = "Battery Power:\n lowpowermode         1\nCurrently in use:\n lowpowermode         0\n"
    assert parse_pmset_settings(custom) == {"low_power_mode": False}


def test_pmset_therm_gives_warning_levels_and_the_cpu_speed_limit():
    assert parse_pmset_therm(PMSET_THERM_IDLE) == {
        "thermal_warning_level": 0,
        "performance_warning_level": 0,
    }
    throttled = parse_pmset_therm(PMSET_THERM_THROTTLED)
    assert throttled["cpu_speed_limit"] == 73
    assert throttled["cpu_available_cpus"] == 8
    assert parse_pmset_therm(PMSET_THERM_WARNING) == {
        "thermal_warning_level": 2,
        "performance_warning_level": 0,
    }


def fake_pmset(monkeypatch, batt, settings, therm):
    outputs = {("-g", "batt"): batt, ("-g",): settings, ("-g", "therm"): therm}
    monkeypatch.setattr(conditions, "pmset_output", lambda *args: outputs[args])


def test_read_power_combines_the_three_pmset_outputs(monkeypatch):
    fake_pmset(monkeypatch, PMSET_BATT_BATTERY, PMSET_G.format(lpm=1), PMSET_THERM_THROTTLED)
    power = conditions.read_power()
    assert power["on_battery"] and power["low_power_mode"]
    assert power["cpu_speed_limit"] == 73


def test_without_pmset_nothing_is_recorded_about_power(monkeypatch):
    monkeypatch.setattr(conditions, "pmset_output", lambda *args: None)
    assert conditions.read_power() == {}


def test_cpu_window_subtracts_the_suites_own_cpu_time():
    start = CpuSnapshot(wall_s=10.0, machine_busy_s=100.0, machine_total_s=400.0, own_s=5.0)
    end = CpuSnapshot(wall_s=12.0, machine_busy_s=103.5, machine_total_s=404.0, own_s=7.0)
    window = cpu_window(start, end, cores=2)
    assert window["own_cores"] == pytest.approx(1.0)  # 2 s of CPU in 2 s
    assert window["others_cores"] == pytest.approx(0.75)  # 3.5 - 2 s of CPU in 2 s
    assert window["machine_cpu_percent"] == pytest.approx(87.5)


def test_other_processes_never_use_more_than_every_core():
    # A busy_note read over a very short window once said "58.9 of 2 cores".
    start = CpuSnapshot(wall_s=10.0, machine_busy_s=100.0, machine_total_s=400.0, own_s=5.0)
    end = CpuSnapshot(wall_s=10.001, machine_busy_s=100.5, machine_total_s=400.5, own_s=5.0)
    assert cpu_window(start, end, cores=2)["others_cores"] == 2.0


def test_a_real_snapshot_pair_measures_this_process():
    start = CpuSnapshot.take()
    total = sum(i * i for i in range(300_000))  # some CPU work of our own
    window = cpu_window(start, CpuSnapshot.take(), conditions.cpu_count())
    assert total > 0
    assert window["wall_s"] > 0
    assert window["own_cores"] >= 0 and window["others_cores"] >= 0


@pytest.mark.parametrize(
    ("cores", "threshold"), [(1, 0.5), (2, 0.5), (8, 0.8), (16, 1.6), (128, 12.8)]
)
def test_busy_means_other_processes_above_half_a_core_or_a_tenth_of_the_cores(cores, threshold):
    assert busy_threshold_cores(cores) == pytest.approx(threshold)
    below = {"cpu": {"others_cores": threshold * 0.99, "cores": cores}}
    above = {"cpu": {"others_cores": threshold * 1.01, "cores": cores}}
    assert judge(below) == []
    ((flag, note),) = judge(above)
    assert flag == BUSY
    assert f"of {cores} cores" in note


def test_other_processes_busy_only_during_the_timed_rounds_still_make_the_case_busy():
    # A short burst inside the timed rounds averages out over the whole case's window.
    conditions = {
        "cpu": {"others_cores": 0.2, "cores": 2},
        "cpu_timed": {"others_cores": 1.5, "cores": 2},
    }
    ((flag, note),) = judge(conditions)
    assert flag == BUSY
    assert note == "other processes used 1.5 of 2 cores during the timed rounds"


def test_a_data_parallel_workers_sibling_on_the_same_machine_is_not_another_process():
    # Two CPU workers on 2 cores: each sees the other as 1 core of "other processes".
    worker = with_verdict(
        {
            "cpu": {"own_cores": 1.0, "others_cores": 1.05, "cores": 2},
            "cpu_timed": {"own_cores": 1.0, "others_cores": 1.1, "cores": 2},
        }
    )
    assert worker["flags"] == [BUSY]
    alone = without_sibling_workers(worker, case_cores=1.0, timed_cores=1.0)
    assert alone["flags"] == [] and alone["notes"] == []
    assert alone["cpu_timed"]["others_cores"] == pytest.approx(0.1)
    assert alone["cpu_timed"]["sibling_workers_cores"] == 1.0
    busy = without_sibling_workers(worker, case_cores=0.2, timed_cores=0.2)
    assert busy["flags"] == [BUSY]


def test_a_window_of_a_few_clock_ticks_is_not_judged():
    # Seen in an idle CI run: a 4 ms case read "other processes used 2.0 of 2 cores".
    short = {"cpu": {"wall_s": 0.004, "others_cores": 2.0, "cores": 2}}
    assert judge(short) == []
    long_enough = {"cpu": {"wall_s": 0.3, "others_cores": 2.0, "cores": 2}}
    assert [flag for flag, _ in judge(long_enough)] == [BUSY]


def test_a_case_using_every_core_itself_is_not_busy():
    assert judge({"cpu": {"own_cores": 2.0, "others_cores": 0.1, "cores": 2}}) == []


def test_battery_low_power_and_throttling_are_flagged_each_with_a_sentence():
    found = dict(
        judge(
            {
                "power": {
                    "on_battery": True,
                    "battery_percent": 16,
                    "low_power_mode": True,
                    "cpu_speed_limit": 73,
                    "thermal_warning_level": 0,
                }
            }
        )
    )
    assert found == {
        ON_BATTERY: "on battery power (16%)",
        LOW_POWER: "Low Power Mode is on",
        THROTTLED: "throttled: CPU speed limit 73%",
    }


def test_an_nvidia_gpu_is_throttled_by_heat_or_slowdown_not_by_its_power_cap():
    assert judge({"gpu": {"clock_event_reasons": ["sw_power_cap"]}}) == []
    ((flag, note),) = judge({"gpu": {"clock_event_reasons": ["sw_power_cap", "hw_slowdown"]}})
    assert (flag, note) == (THROTTLED, "throttled: GPU clock event reasons hw_slowdown")


def test_the_run_summary_counts_flagged_cases_and_words_one_warning_per_flag(fake_load):
    fake_load(others_cores=0.0)
    watch = conditions.RunWatch(cooldown_s=2.0)
    watch.case_starts()
    busy = conditions.with_verdict({"cpu": {"others_cores": 1.7, "cores": 2}})
    calm = conditions.with_verdict({"cpu": {"others_cores": 0.1, "cores": 2}})
    summary = watch.summary([busy, calm, busy])
    assert summary["flags"] == [BUSY]
    assert summary["flagged_cases"] == {BUSY: 2}
    assert summary["cooldown_s"] == 2.0
    (warning,) = summary["warnings"]
    assert warning.startswith("the machine was busy during 2 of 3 cases")
    assert "1.7 of 2 cores" in warning
    assert watch.summary([calm])["warnings"] == []


RUN = ["benchmarks", *SMOKE, "--devices", "cpu", "-k", "infer"]


def run_cnn(suite, *extra):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*RUN, "--benchmark-json", "run.json", *extra)
    result.assert_outcomes(passed=1)
    return result, json.loads((suite.path / "run.json").read_text())


def test_a_busy_run_warns_in_the_terminal_and_marks_the_json_and_the_report(
    suite, fake_load, tmp_path
):
    fake_load(others_cores=1.8)
    result, saved = run_cnn(suite)
    result.stdout.fnmatch_lines(
        [
            "*accelbench summary*",
            "*torch cnn*infer*fp32*images/s*busy*",
            "WARNING: the machine was busy during 1 of 1 cases (marked 'busy'): other processes "
            "used up to 1.8 of 2 cores*--cooldown SECONDS*",
            "headline: only the CPU was asked for*",
        ]
    )
    info = saved["benchmarks"][0]["extra_info"]
    assert info["conditions"]["flags"] == [BUSY]
    assert info["conditions"]["cpu"]["others_cores"] == 1.8
    assert info["conditions"]["cpu_timed"]["others_cores"] == 1.8  # the timed rounds alone
    run = saved["accelbench"]["conditions"]
    assert run["flags"] == [BUSY]
    assert run["flagged_cases"] == {BUSY: 1}
    assert run["busy_threshold_cores"] == 0.5

    assert main(["report", str(suite.path / "run.json"), "--out", str(tmp_path)]) == 0
    markdown = (tmp_path / "report.md").read_text()
    assert "### Conditions" in markdown
    assert "the machine was busy during 1 of 1 cases" in markdown
    (row,) = [line for line in markdown.splitlines() if line.startswith("| infer |")]
    assert row.rstrip(" |").endswith("*busy*")


def test_an_idle_run_has_no_warning_and_no_mark(suite, fake_load, tmp_path):
    fake_load(others_cores=0.1)
    result, saved = run_cnn(suite)
    assert "WARNING" not in result.stdout.str()
    assert saved["benchmarks"][0]["extra_info"]["conditions"]["flags"] == []
    assert saved["accelbench"]["conditions"]["warnings"] == []
    assert main(["report", str(suite.path / "run.json"), "--out", str(tmp_path)]) == 0
    assert "Nothing flagged" in (tmp_path / "report.md").read_text()


def test_a_laptop_on_battery_in_low_power_mode_is_told_what_to_do(suite, fake_load, monkeypatch):
    fake_load(others_cores=0.0)
    fake_pmset(monkeypatch, PMSET_BATT_BATTERY, PMSET_G.format(lpm=1), PMSET_THERM_IDLE)
    result, saved = run_cnn(suite)
    result.stdout.fnmatch_lines(
        [
            "WARNING: on battery power during 1 of 1 cases: plug in the power adapter",
            "WARNING: Low Power Mode was on during 1 of 1 cases: turn it off*",
        ]
    )
    info = saved["benchmarks"][0]["extra_info"]
    assert info["conditions"]["flags"] == [ON_BATTERY, LOW_POWER]
    assert info["conditions"]["power"]["battery_percent"] == 16


def test_cooldown_sleeps_before_each_case(suite, monkeypatch):
    from accelbench import plugin

    naps = []
    monkeypatch.setattr(plugin.time, "sleep", naps.append)
    add_benchmarks(suite, "test_cnn_torch.py")
    suite.runpytest(*SMOKE, "--devices", "cpu", "--cooldown", "2.5").assert_outcomes(passed=2)
    assert naps == [2.5, 2.5]


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "1e9"])
def test_a_bad_cooldown_is_a_usage_error(suite, value):
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(*SMOKE, "--cooldown", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cooldown: *"])
