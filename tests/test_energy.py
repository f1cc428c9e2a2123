"""Energy per step from NVML's counter, checked against sampled power; a fake NVML."""

import itertools
import json
import sys
import time
import types

import pytest

from accelbench.core import energy, nvml
from accelbench.core.conditions import THROTTLED, judge
from accelbench.core.energy import EnergyMeter, integrate
from accelbench.core.timed_window import group_energy

from conftest import SMOKE, add_benchmarks


class FakeClock:
    """Time moves only when the test says so."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakeNvml(types.ModuleType):
    """pynvml's calls the suite makes, on a board that draws ``watts`` steadily; its energy
    counter follows the fake clock, in millijoules."""

    def __init__(self, clock, watts=300.0, reasons=0x4, field_values=True):
        super().__init__("pynvml")
        self.clock, self.watts, self.reasons = clock, watts, reasons
        self.field_values = field_values
        self.start = clock()

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByUUID(self, uuid):
        return "gpu0"

    def nvmlDeviceGetHandleByIndex(self, index):
        return "gpu0"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return int(5_000_000 + (self.clock() - self.start) * self.watts * 1e3)

    def nvmlDeviceGetPowerUsage(self, handle):
        return int(self.watts * 1e3)

    def nvmlDeviceGetFieldValues(self, handle, fields):
        if not self.field_values:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        value = types.SimpleNamespace(uiVal=int(self.watts * 1e3))
        return [types.SimpleNamespace(nvmlReturn=0, valueType=1, value=value)]

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        return self.reasons

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return 1980 if clock == nvml.CLOCK_SM else 3201

    def nvmlDeviceGetMaxClockInfo(self, handle, clock):
        return 1980

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return 61

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        return 700_000

    def nvmlDeviceGetName(self, handle):
        return "NVIDIA H200"


@pytest.fixture
def fake_nvml(monkeypatch):
    """Install a FakeNvml as ``pynvml``, its counter following ``fake_nvml.clock``."""
    module = FakeNvml(FakeClock())
    monkeypatch.setitem(sys.modules, "pynvml", module)
    nvml.loaded.cache_clear()
    yield module
    nvml.loaded.cache_clear()


def quiet_meter(fake_nvml):
    """A meter on the fake board whose background thread sleeps: it samples at start and stop."""
    meter = EnergyMeter("cuda", clock=fake_nvml.clock)
    meter.sampler.interval_s = 3600
    return meter


def test_trapezoids_integrate_power_over_the_window_holding_the_ends_flat():
    samples = [(1.0, 100.0), (2.0, 300.0)]
    assert integrate(samples, 0.0, 3.0) == pytest.approx(100 + 200 + 300)
    assert integrate([], 0.0, 1.0) is None
    assert integrate(samples, 5.0, 6.0) is None


def test_energy_per_step_and_items_per_joule_from_the_counter(fake_nvml):
    clock = fake_nvml.clock
    meter = quiet_meter(fake_nvml)
    with meter:
        clock.now += 2.0  # the timed rounds: 2 s at 300 W
    result = meter.energy(steps=40, items_per_step=32, item_unit="images")
    assert result["measured"] is True
    assert result["joules"] == pytest.approx(600.0)
    assert result["joules_per_step"] == pytest.approx(15.0)
    assert result["items_per_joule"] == pytest.approx(32 * 40 / 600)
    assert result["mean_power_w"] == pytest.approx(300.0)
    assert result["counter_vs_power_usage"] == pytest.approx(1.0)
    assert result["counter_vs_power_instant"] == pytest.approx(1.0)
    assert result["coarse"] is False


def test_the_gpu_conditions_come_from_the_same_window(fake_nvml):
    clock = fake_nvml.clock
    fake_nvml.reasons = 0x4 | 0x40  # power cap and hardware thermal slowdown
    meter = quiet_meter(fake_nvml)
    with meter:
        clock.now += 0.5
    gpu = meter.gpu_conditions()
    assert gpu["name"] == "NVIDIA H200"
    assert gpu["power_limit_w"] == 700.0
    assert gpu["sm_clock_mhz_max"] == 1980
    assert gpu["temperature_c_max"] == 61
    assert gpu["clock_event_reasons"] == ["hw_thermal_slowdown", "sw_power_cap"]
    assert [flag for flag, _ in judge({"gpu": gpu})] == [THROTTLED]
    assert meter.energy(10, 1, "images")["coarse"] is True


def test_the_background_thread_samples_while_the_rounds_run(fake_nvml):
    ticks = itertools.count(0.0, 0.001)
    meter = EnergyMeter("cuda", clock=lambda: next(ticks))
    meter.sampler.interval_s = 0.001
    with meter:
        deadline = time.monotonic() + 60  # however busy the machine: the thread gets its turn
        while len(meter.sampler.power_usage) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(meter.sampler.power_usage) >= 6  # five from the thread, one at the stop


def test_without_an_energy_counter_the_integrated_power_is_the_figure(fake_nvml, monkeypatch):
    def not_supported(handle):
        raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")

    monkeypatch.setattr(fake_nvml, "nvmlDeviceGetTotalEnergyConsumption", not_supported)
    clock = fake_nvml.clock
    meter = quiet_meter(fake_nvml)
    with meter:
        clock.now += 1.0
    result = meter.energy(steps=10, items_per_step=1, item_unit="images")
    assert result["source"] == "instantaneous board power, integrated"
    assert result["joules"] == pytest.approx(300.0)
    assert "counter_vs_power_usage" not in result


def test_a_data_parallel_case_counts_every_workers_board_per_step_of_the_group(fake_nvml):
    clock, workers = fake_nvml.clock, []
    for watts in (300.0, 200.0):  # two workers' boards, each over 2 s of the same 40 steps
        fake_nvml.watts = watts
        meter = quiet_meter(fake_nvml)
        with meter:
            clock.now += 2.0
        workers.append(meter.energy(steps=40, items_per_step=32, item_unit="images"))
    result = group_energy(workers, items_per_step=64)
    assert result["measured"] is True
    assert result["workers"] == 2
    assert result["joules"] == pytest.approx(600.0 + 400.0)
    assert result["joules_per_step"] == pytest.approx(1000 / 40)
    assert result["items_per_joule"] == pytest.approx(64 * 40 / 1000)
    assert result["mean_power_w"] == pytest.approx(500.0)
    assert result["counter_vs_power_usage"] == pytest.approx(1.0)
    assert group_energy(workers[:1], items_per_step=32) == workers[0]  # a group of one


def test_a_data_parallel_case_without_energy_on_one_worker_has_none():
    cpu = {"measured": False, "reason": "energy not measured: no energy counter is read for cpu"}
    measured = {"measured": True, "joules": 600.0, "steps": 40}
    assert group_energy([measured, cpu], items_per_step=64) == cpu
    assert group_energy([cpu, cpu], items_per_step=64) == cpu


def test_no_nvml_no_energy_and_the_reason_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    nvml.loaded.cache_clear()
    monkeypatch.setattr(energy.sys, "platform", "linux")
    try:
        meter = EnergyMeter("cuda")
        with meter:
            pass
        result = meter.energy(10, 1, "images")
    finally:
        nvml.loaded.cache_clear()
    assert result == {
        "measured": False,
        "reason": "energy not measured: nvidia-ml-py is not installed (pip install nvidia-ml-py)",
    }
    assert meter.gpu_conditions() is None


def test_on_a_mac_energy_needs_sudo_powermetrics(monkeypatch):
    monkeypatch.setattr(energy.sys, "platform", "darwin")
    meter = EnergyMeter("mps")
    with meter:
        pass
    assert meter.energy(10, 1, "images")["reason"] == "energy not measured: needs sudo powermetrics"


def test_a_cuda_session_saves_energy_and_prints_images_per_joule(
    suite, fake_nvml, monkeypatch, fresh_devices, tmp_path
):
    """A stand-in CUDA device (CPU tensors) with the fake NVML: the whole path from the timed
    rounds to the summary, the JSON and the report."""
    import torch

    from accelbench.__main__ import main
    from accelbench.backends.torch.devices import CudaDevice

    fake_nvml.clock = time.perf_counter  # the counter follows real time here
    fake_nvml.start = fake_nvml.clock()
    monkeypatch.setattr(CudaDevice, "_probe", lambda self: None)
    monkeypatch.setattr(CudaDevice, "torch_device", lambda self: torch.device("cpu"))
    monkeypatch.setattr(CudaDevice, "label", property(lambda self: "Fake H200 (CUDA)"))
    monkeypatch.setattr(CudaDevice, "synchronize", lambda self, result=None: None)
    monkeypatch.setattr(CudaDevice, "timer", lambda self: None)
    monkeypatch.setattr(CudaDevice, "reset_memory", lambda self: None)
    monkeypatch.setattr(CudaDevice, "memory", lambda self: {})
    monkeypatch.setattr(CudaDevice, "set_precision", lambda self, dtype: None)
    add_benchmarks(suite, "test_cnn_torch.py")
    result = suite.runpytest(
        *SMOKE, "--devices", "cpu,cuda", "-k", "infer", "--benchmark-json", "run.json"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["(also measured: energy; shown with -v, and by report)"])
    result = suite.runpytest(
        *SMOKE, "--devices", "cpu,cuda", "-k", "infer", "--benchmark-json", "run.json", "-v"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "energy over the timed rounds*",
            "torch cnn*infer*fp32*cuda*images/J*W*",
            "headline: speedup over the CPU*",
            "  torch cnn infer fp32 smoke  cuda *x*",
        ]
    )
    saved = json.loads((suite.path / "run.json").read_text())
    by_device = {b["extra_info"]["device"]: b["extra_info"] for b in saved["benchmarks"]}
    cuda = by_device["cuda"]
    assert cuda["energy"]["measured"] is True
    # The fake counter follows real time, read a moment apart from the window's clock reads:
    # close to 300 W, exactly only in the fake-clock tests above.
    assert cuda["energy"]["mean_power_w"] == pytest.approx(300.0, rel=0.5)
    assert cuda["energy"]["items_per_joule"] == pytest.approx(
        cuda["items_per_step"] * cuda["energy"]["steps"] / cuda["energy"]["joules"]
    )
    assert cuda["conditions"]["gpu"]["clock_event_reasons"] == ["sw_power_cap"]
    assert by_device["cpu"]["energy"]["measured"] is False
    (row,) = saved["accelbench"]["energy"]
    assert row["device"] == "cuda"

    assert main(["report", str(suite.path / "run.json"), "--out", str(tmp_path)]) == 0
    markdown = (tmp_path / "report.md").read_text()
    assert "### Energy" in markdown
    assert "images/J" in markdown
    assert (tmp_path / "energy.png").exists()
