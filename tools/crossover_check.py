"""Check one CPU/accelerator crossover with a plain timing loop, outside pytest-benchmark.

    python tools/crossover_check.py accelbench.workloads.cnn:SimpleCNN --phase infer \
        --device cuda --size standard [--batches 4 8] [--run saved.json]

Builds the workload exactly as the suite does at each of the two batches (the suite's
variant ``batch=N``) on the CPU and on the device, warms up, then times blocks of k steps
with ``time.perf_counter`` and one synchronize at the end of each block, and prints the
median time per item on each device and the speedup at each batch. When the speedup
crosses 1 between the two batches it prints the crossover interpolated on log-log axes
(written out here, not taken from the suite). With ``--run``, also prints the suite's
speedups and crossover for the same case from a saved run (``accelbench.crossover``); without
``--batches`` it times the two measured batches around the saved run's crossover.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelbench import backends
from accelbench.core.saved_form import Unusable, read_identity
from accelbench.core.spec import CaseSpec, batch_variant


def time_per_item(cls: type, spec: CaseSpec, block_s: float, blocks: int) -> float:
    """Median seconds per item over ``blocks`` blocks of k steps, each ending in a synchronize."""
    device = backends.get_device(spec.framework, spec.device)
    if device.unusable_reason:
        sys.exit(f"{spec.device}: {device.unusable_reason}")
    device.set_precision(spec.dtype)  # as the suite does: fp32 is strict, TF32 off
    workload = cls(spec, device)
    for _ in range(5):
        workload.step()
    device.synchronize()
    t0 = time.perf_counter()
    workload.step()
    device.synchronize()
    k = max(1, round(block_s / (time.perf_counter() - t0)))
    per_step = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(k):
            workload.step()
        device.synchronize()
        per_step.append((time.perf_counter() - t0) / k)
    return statistics.median(per_step) / workload.items_per_step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", help="module:Class, e.g. accelbench.workloads.cnn:SimpleCNN")
    parser.add_argument("--phase", default="infer")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", default="standard")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument(
        "--batches",
        type=int,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="the two batches to time; default: the two around the crossover in --run",
    )
    parser.add_argument("--block-ms", type=float, default=20.0, help="target length of a block")
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--run", help="saved pytest-benchmark JSON to compare with")
    args = parser.parse_args()
    if args.device == "cpu":
        parser.error("--device: the accelerator to compare with the CPU (mps, cuda), not cpu")
    module_name, class_name = args.workload.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if args.batches is None:
        if not args.run:
            parser.error("--batches LOW HIGH, or --run with a crossover to take them from")
        row = suite_row(Path(args.run), cls, args.phase, args.device, args.dtype, args.size)
        if row is None or not row["crossover_between"]:
            parser.error("the saved run has no crossover for this case: give --batches LOW HIGH")
        args.batches = row["crossover_between"]
    if args.batches[0] == args.batches[1]:
        parser.error("--batches: two different batch sizes")
    speedups = []
    for batch in sorted(args.batches):
        times = {}
        for device in ("cpu", args.device):
            spec = CaseSpec(
                cls.framework, cls.name, device, args.phase, args.dtype, args.size,
                batch_variant("", batch),
            )  # fmt: skip
            times[device] = time_per_item(cls, spec, args.block_ms / 1e3, args.blocks)
        speedups.append(times["cpu"] / times[args.device])
        print(
            f"batch {batch}: cpu {times['cpu'] * 1e6:.2f} us/item, {args.device} "
            f"{times[args.device] * 1e6:.2f} us/item, speedup {speedups[-1]:.3f}x"
        )
    (b1, b2), (s1, s2) = sorted(args.batches), speedups
    if s1 <= 1 < s2:
        x = math.log(b1) - math.log(s1) * (math.log(b2) - math.log(b1)) / (
            math.log(s2) - math.log(s1)
        )
        print(f"crossover between {b1} and {b2}: batch {math.exp(x):.3g} (log-log interpolation)")
    else:
        print(f"no crossing between batch {b1} and {b2}")
    if args.run:
        print(suite_figures(Path(args.run), cls, args.phase, args.device, args.dtype, args.size))
    return 0


def suite_row(run: Path, cls: type, phase: str, device: str, dtype: str, size: str) -> dict | None:
    """The saved run's ``accelbench.crossover`` row of the same case, or None."""
    rows = json.loads(run.read_text()).get("accelbench", {}).get("crossover", [])
    case = CaseSpec(cls.framework, cls.name, device, phase, dtype, size)
    return next((r for r in rows if _identity(r) == case), None)


def _identity(row: dict) -> CaseSpec | None:
    """The case a crossover row names (a row's identity is saved as a case's is)."""
    try:
        return read_identity(row)
    except Unusable:
        return None


def suite_figures(run: Path, cls: type, phase: str, device: str, dtype: str, size: str) -> str:
    """The suite's speedups and crossover for the same case, from a saved run."""
    row = suite_row(run, cls, phase, device, dtype, size)
    if row is None:
        return "no matching batch sweep in the saved run"
    speedups = zip(row["speedup_batches"], row["speedup_over_cpu"])
    at = ", ".join(f"batch {b}: {s:.3f}x" for b, s in speedups)
    found = f"crossover: {row['crossover_status']}"
    if row["crossover_batch"]:
        found += f" at batch {row['crossover_batch']:.3g}"
    return f"suite: {at}; {found}"


if __name__ == "__main__":
    sys.exit(main())
