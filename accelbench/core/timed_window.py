"""The timed rounds of a case, watched: what every runner records around them.

Single-device and data-parallel cases (the one loop of ``accelbench.core.runner``, each
with its strategy) alike run their timed rounds inside one ``TimedWindow``: the energy
meter (with its GPU sampler, ``accelbench.core.energy``) and the conditions' timed-rounds
CPU snapshots (``accelbench.core.conditions``) bracket the same rounds, which end in the
device's synchronize. Afterwards the window gives the case's ``energy`` and
``conditions``, and ``window_info`` the extra_info fields they are saved as.

A data-parallel case's energy is every worker's device together (``group_energy``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accelbench.core.conditions import CaseWatch
from accelbench.core.energy import SOURCE, EnergyMeter
from accelbench.core.measure import SynchronizedBlocks, TimingPlan


class TimedWindow:
    """``run`` the timed rounds once; then ``energy(...)`` and ``conditions()`` of them."""

    def __init__(self, watch: CaseWatch, device_name: str, nvidia_uuid: str | None) -> None:
        self.watch = watch
        self.meter = EnergyMeter(device_name, nvidia_uuid=nvidia_uuid)
        self.steps = 0  # every step in the window: the warm-up rounds' and the timed ones'

    def run(self, benchmark: Any, blocks: SynchronizedBlocks, plan: TimingPlan) -> None:
        """pytest-benchmark's rounds of ``blocks`` as ``plan`` says, ending in a wait for the
        last step's work."""
        with self.meter:
            self.watch.timed_rounds_start()
            benchmark.pedantic(
                blocks,
                rounds=plan.rounds,
                warmup_rounds=plan.warmup_rounds,
                iterations=plan.steps_per_round,
            )
            blocks.wait()
            self.watch.timed_rounds_end()
        self.steps = (benchmark.stats.stats.rounds + plan.warmup_rounds) * plan.steps_per_round

    def energy(self, items_per_step: float, item_unit: str) -> dict[str, Any]:
        """Joules per step and items per joule over the window, or why there are none."""
        return self.meter.energy(self.steps, items_per_step, item_unit)

    def conditions(self) -> dict[str, Any]:
        """The case's conditions until now, the GPU's over the window among them; judged."""
        return self.watch.finish(gpu=self.meter.gpu_conditions())


def window_info(energy: dict[str, Any], conditions: dict[str, Any]) -> dict[str, Any]:
    """The extra_info fields of a case's energy and conditions."""
    return {
        "energy": energy,
        "conditions": conditions,
        "flags": list(conditions["flags"]),  # read back as Record.flags
    }


def group_energy(workers: Sequence[dict[str, Any]], items_per_step: float) -> dict[str, Any]:
    """A data-parallel case's energy: each worker's ``TimedWindow.energy`` (in rank order,
    each over its own device and the same steps) summed over the workers' devices, per step
    of the whole group; ``items_per_step``: the group's. Not measured on one worker: not
    measured, with that worker's reason. A group of one worker: that worker's energy."""
    if len(workers) == 1:
        return dict(workers[0])
    missing = next((w for w in workers if not w["measured"]), None)
    if missing is not None:
        return {"measured": False, "reason": missing["reason"]}
    first = workers[0]
    steps, joules = first["steps"], sum(w["joules"] for w in workers)
    sources = {w["source"] for w in workers}
    result: dict[str, Any] = {
        "measured": True,
        "source": " and ".join(sorted(sources)) + f", summed over {len(workers)} workers",
        "window_s": max(w["window_s"] for w in workers),
        "steps": steps,
        "joules": joules,
        "joules_per_step": joules / steps,
        "items_per_joule": items_per_step * steps / joules,
        "item_unit": first["item_unit"],
        "mean_power_w": sum(w["mean_power_w"] for w in workers),
        "coarse": any(w["coarse"] for w in workers),
        "workers": len(workers),
    }
    for key in ("power_usage_integrated_joules", "power_instant_integrated_joules"):
        values = [w.get(key) for w in workers]
        if all(values):
            result[key] = sum(values)
    for key, name in (
        ("power_usage_integrated_joules", "counter_vs_power_usage"),
        ("power_instant_integrated_joules", "counter_vs_power_instant"),
    ):
        if sources == {SOURCE} and result.get(key):
            result[name] = joules / result[key]
    return result
