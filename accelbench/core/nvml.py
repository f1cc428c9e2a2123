"""NVIDIA's management library (NVML, ``pip install nvidia-ml-py``, imported as ``pynvml``).

Optional: where it is missing, or there is no NVIDIA driver, ``handle_for`` returns None
and nothing NVIDIA-specific is recorded. Every read is guarded, so an NVML call a GPU does
not support (``NVMLError_NotSupported``) leaves that one figure out, never a case.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

MISSING_HINT = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"

# Field id of the board's instantaneous power (mW) for nvmlDeviceGetFieldValues (driver 530+).
# nvmlDeviceGetPowerUsage is a one-second average on Ampere (but GA100) and newer GPUs.
FIELD_POWER_INSTANT = 186
# nvmlValueType_t -> the member of the value union that holds it
VALUE_MEMBERS = {
    0: "dVal",
    1: "uiVal",
    2: "ulVal",
    3: "ullVal",
    4: "sllVal",
    5: "siVal",
    6: "usVal",
}
CLOCK_SM, CLOCK_MEM = 1, 2  # nvmlClockType_t
TEMPERATURE_GPU = 0  # nvmlTemperatureSensors_t

# nvmlClocksEventReasons bits (the ABI values; pynvml renamed the constants over time).
CLOCK_EVENT_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
# Reasons that mean the GPU ran slower than it can: heat, a hardware slowdown, a power brake.
# sw_power_cap is left out: a GPU at full load runs at its power limit by design.
THROTTLE_REASONS = frozenset(
    {"hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
)


@dataclass(frozen=True)
class Gpu:
    """One NVML device handle, with the module it came from."""

    nvml: Any
    handle: Any

    def read(self, name: str, *args: Any) -> Any:
        """``nvml.<name>(handle, *args)``, or None where the call fails or does not exist."""
        function = getattr(self.nvml, name, None)
        if function is None:
            return None
        try:
            return function(self.handle, *args)
        except Exception:  # NVMLError_NotSupported and friends: that figure is unknown
            return None

    def energy_mj(self) -> int | None:
        """The board's energy since the driver loaded, in millijoules (Volta and newer)."""
        return self.read("nvmlDeviceGetTotalEnergyConsumption")

    def power_usage_w(self) -> float | None:
        """nvmlDeviceGetPowerUsage in watts (a one-second average on recent GPUs)."""
        milliwatts = self.read("nvmlDeviceGetPowerUsage")
        return None if milliwatts is None else milliwatts / 1e3

    def power_instant_w(self) -> float | None:
        """The instantaneous board power in watts, where the driver has the field."""
        values = self.read("nvmlDeviceGetFieldValues", [FIELD_POWER_INSTANT])
        if not values:
            return None
        value = values[0]
        if getattr(value, "nvmlReturn", 1) != 0:
            return None
        member = VALUE_MEMBERS.get(getattr(value, "valueType", 1), "uiVal")
        number = getattr(value.value, member, None)
        return number / 1e3 if isinstance(number, (int, float)) and number > 0 else None

    def clock_event_reasons(self) -> list[str] | None:
        mask = self.read("nvmlDeviceGetCurrentClocksEventReasons")
        if mask is None:
            mask = self.read("nvmlDeviceGetCurrentClocksThrottleReasons")
        if mask is None:
            return None
        return [name for bit, name in CLOCK_EVENT_REASONS.items() if mask & bit]

    def state(self) -> dict[str, Any]:
        """Clocks, temperature and power limit now; figures NVML cannot give are left out."""
        limit_mw = self.read("nvmlDeviceGetEnforcedPowerLimit")
        name = self.read("nvmlDeviceGetName")
        facts = {
            "name": name.decode() if isinstance(name, bytes) else name,
            "sm_clock_mhz": self.read("nvmlDeviceGetClockInfo", CLOCK_SM),
            "sm_clock_max_mhz": self.read("nvmlDeviceGetMaxClockInfo", CLOCK_SM),
            "memory_clock_mhz": self.read("nvmlDeviceGetClockInfo", CLOCK_MEM),
            "temperature_c": self.read("nvmlDeviceGetTemperature", TEMPERATURE_GPU),
            "power_limit_w": None if limit_mw is None else limit_mw / 1e3,
        }
        return {k: v for k, v in facts.items() if v is not None}


@functools.lru_cache(maxsize=1)
def loaded() -> tuple[Any, str]:
    """(pynvml initialised, "") or (None, why not: not installed, or no driver answered)."""
    try:
        import pynvml
    except ImportError:
        return None, MISSING_HINT
    try:
        pynvml.nvmlInit()
    except Exception as exc:
        return None, f"NVML did not start ({str(exc).strip() or type(exc).__name__})"
    return pynvml, ""


def module() -> Any:
    """pynvml, initialised; None where it is missing or no NVIDIA driver answers."""
    return loaded()[0]


def handle_for(device_name: str, uuid: str | None = None) -> Gpu | None:
    """The NVML device behind the suite's ``cuda`` device, or None.

    Matched by ``uuid`` (``Device.nvidia_uuid``) where the framework gives it, else the
    first index in ``CUDA_VISIBLE_DEVICES`` (CUDA device 0), else NVML's index 0.
    """
    if device_name != "cuda":
        return None
    nvml = module()
    if nvml is None:
        return None
    if uuid:
        try:
            return Gpu(nvml, nvml.nvmlDeviceGetHandleByUUID(uuid))
        except Exception:
            pass
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    try:
        return Gpu(nvml, nvml.nvmlDeviceGetHandleByIndex(int(visible) if visible.isdigit() else 0))
    except Exception:
        return None
