"""Energy of a case's timed rounds, where the hardware counts it.

NVIDIA (with ``nvidia-ml-py``): NVML's total energy counter (millijoules since the driver
loaded, Volta and newer) is read just before and just after the timed rounds: joules per
step and items per joule. As a cross-check a background thread samples the board's power
over the same rounds, every ``SAMPLE_INTERVAL_S``, and integrates it: both
``nvmlDeviceGetPowerUsage`` (a one-second average on Ampere and newer) and the
instantaneous power field where the driver has it. The same thread keeps the clocks,
temperature and clock event reasons seen while the rounds ran: the case's ``gpu``
conditions (``accelbench.core.conditions``). The counter ticks about every 100 ms, so a window
under a second (smoke sizes) gives a coarse figure, marked ``coarse``.

The energy is the whole board's (idle power included), not the kernels' alone.

macOS: the CPU and GPU energy counters are readable only through ``sudo powermetrics``;
the case records that it was not measured and why. Elsewhere nothing is counted.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from accelbench.core import nvml

SAMPLE_INTERVAL_S = 0.02
COARSE_WINDOW_S = 1.0
SOURCE = "NVML total energy counter (whole board)"


def not_measured_reason(device_name: str, gpu: nvml.Gpu | None) -> str:
    if sys.platform == "darwin":
        return "energy not measured: needs sudo powermetrics"
    if device_name == "cuda" and nvml.module() is None:
        return f"energy not measured: {nvml.loaded()[1]}"
    if device_name == "cuda":
        return "energy not measured: NVML has no energy counter or power reading for this GPU"
    return f"energy not measured: no energy counter is read for {device_name}"


def integrate(samples: Sequence[tuple[float, float]], start: float, end: float) -> float | None:
    """Joules over [start, end] from (time, watts) samples: trapezoids between samples, the
    first and last values held flat out to the window's edges."""
    points = sorted((t, w) for t, w in samples if start <= t <= end)
    if not points or end <= start:
        return None
    joules = points[0][1] * (points[0][0] - start) + points[-1][1] * (end - points[-1][0])
    for (t0, w0), (t1, w1) in zip(points, points[1:]):
        joules += (w0 + w1) / 2 * (t1 - t0)
    return joules


class GpuSampler:
    """Samples power, clocks, temperature and clock event reasons in a background thread."""

    def __init__(
        self,
        gpu: nvml.Gpu,
        interval_s: float = SAMPLE_INTERVAL_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.gpu = gpu
        self.interval_s = interval_s
        self.clock = clock
        self.power_usage: list[tuple[float, float]] = []
        self.power_instant: list[tuple[float, float]] = []
        self.reasons: set[str] = set()
        self.sm_clocks: list[int] = []
        self.temperatures: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="accelbench-nvml", daemon=True)

    def sample(self) -> None:
        now = self.clock()
        usage, instant = self.gpu.power_usage_w(), self.gpu.power_instant_w()
        if usage is not None:
            self.power_usage.append((now, usage))
        if instant is not None:
            self.power_instant.append((now, instant))
        self.reasons.update(self.gpu.clock_event_reasons() or [])
        clock = self.gpu.read("nvmlDeviceGetClockInfo", nvml.CLOCK_SM)
        if clock is not None:
            self.sm_clocks.append(clock)
        temperature = self.gpu.read("nvmlDeviceGetTemperature", nvml.TEMPERATURE_GPU)
        if temperature is not None:
            self.temperatures.append(temperature)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def conditions(self) -> dict[str, Any]:
        """The GPU's state over the window: the ``gpu`` part of a case's conditions."""
        state = self.gpu.state()
        state.pop("sm_clock_mhz", None)
        state.pop("temperature_c", None)
        if self.sm_clocks:
            state["sm_clock_mhz_min"] = min(self.sm_clocks)
            state["sm_clock_mhz_max"] = max(self.sm_clocks)
        if self.temperatures:
            state["temperature_c_max"] = max(self.temperatures)
        # gpu_idle shows between rounds (the host waits on a synchronize): not a slowdown.
        state["clock_event_reasons"] = sorted(self.reasons - {"gpu_idle"})
        return state


class EnergyMeter:
    """Around the timed rounds: ``with meter: ...``; then ``energy(...)``, ``gpu_conditions()``."""

    def __init__(
        self,
        device_name: str,
        clock: Callable[[], float] = time.perf_counter,
        nvidia_uuid: str | None = None,
    ) -> None:
        self.device_name = device_name
        self.clock = clock
        self.gpu = nvml.handle_for(device_name, nvidia_uuid)
        self.sampler = GpuSampler(self.gpu, clock=clock) if self.gpu else None
        self.start_mj: int | None = None
        self.end_mj: int | None = None
        self.start_s = self.end_s = 0.0

    def __enter__(self) -> EnergyMeter:
        if self.sampler is not None:
            self.sampler.start()
        if self.gpu is not None:
            self.start_mj = self.gpu.energy_mj()
        self.start_s = self.clock()
        return self

    def __exit__(self, *exc: object) -> None:
        self.end_s = self.clock()
        if self.gpu is not None:
            self.end_mj = self.gpu.energy_mj()
        if self.sampler is not None:
            self.sampler.stop()

    def gpu_conditions(self) -> dict[str, Any] | None:
        return self.sampler.conditions() if self.sampler else None

    def energy(self, steps: int, items_per_step: float, item_unit: str) -> dict[str, Any]:
        """Joules per step and items per joule over the window, or why there are none."""
        window = self.end_s - self.start_s
        integrated = {}
        if self.sampler is not None:
            integrated = {
                "power_usage_integrated_joules": integrate(
                    self.sampler.power_usage, self.start_s, self.end_s
                ),
                "power_instant_integrated_joules": integrate(
                    self.sampler.power_instant, self.start_s, self.end_s
                ),
                "power_samples": len(self.sampler.power_usage),
            }
        joules, source = None, SOURCE
        if self.start_mj is not None and self.end_mj is not None and self.end_mj >= self.start_mj:
            joules = (self.end_mj - self.start_mj) / 1e3
        else:
            for key, name in (
                ("power_instant_integrated_joules", "instantaneous board power, integrated"),
                ("power_usage_integrated_joules", "nvmlDeviceGetPowerUsage, integrated"),
            ):
                if integrated.get(key):
                    joules, source = integrated[key], name
                    break
        if not joules or steps <= 0 or window <= 0:
            return {"measured": False, "reason": not_measured_reason(self.device_name, self.gpu)}
        result: dict[str, Any] = {
            "measured": True,
            "source": source,
            "window_s": window,
            "steps": steps,
            "joules": joules,
            "joules_per_step": joules / steps,
            "items_per_joule": items_per_step * steps / joules,
            "item_unit": item_unit,
            "mean_power_w": joules / window,
            "coarse": window < COARSE_WINDOW_S,
            **integrated,
        }
        for key, name in (
            ("power_usage_integrated_joules", "counter_vs_power_usage"),
            ("power_instant_integrated_joules", "counter_vs_power_instant"),
        ):
            if source == SOURCE and integrated.get(key):
                result[name] = joules / integrated[key]
        return result
