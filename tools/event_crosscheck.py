"""Time one case with device events only, outside pytest-benchmark, as an independent check.

    python tools/event_crosscheck.py accelbench.workloads.resnet18:ResNet18 --phase train \
        --device cuda --size standard [--run saved.json]

Builds the workload exactly as the suite does, warms up, then times blocks of k steps
between two device events (the same steady-state definition the suite uses) and prints
the median per step. With ``--run``, also prints the suite's median for the same case
from a saved pytest-benchmark JSON and the difference in percent.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelbench import backends
from accelbench.core.spec import CaseSpec
from accelbench.results.runs import RunError, load_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "workload", help="module:Class, e.g. accelbench.workloads.resnet18:ResNet18"
    )
    parser.add_argument("--phase", default="train")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", default="standard")
    parser.add_argument("--dtype", default="fp32")
    parser.add_argument("--variant", default="")
    parser.add_argument("--block-ms", type=float, default=20.0, help="target length of a block")
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--run", help="saved pytest-benchmark JSON to compare with")
    args = parser.parse_args()

    module_name, class_name = args.workload.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    spec = CaseSpec(
        cls.framework, cls.name, args.device, args.phase, args.dtype, args.size, args.variant
    )
    device = backends.get_device(spec.framework, spec.device)
    if device.unusable_reason:
        print(device.unusable_reason)
        return 2
    timer = device.timer()
    if timer is None:
        print(f"{args.device} has no device events")
        return 2
    device.set_precision(spec.dtype)  # as the suite does: fp32 is strict, TF32 off
    workload = cls(spec, device)
    for _ in range(10):
        workload.step()
    device.synchronize()
    timer.start()
    workload.step()
    timer.stop()
    device.synchronize()
    one = timer.elapsed_s()[-1]
    k = max(1, round(args.block_ms / 1e3 / one))
    for _ in range(args.blocks):
        timer.start()
        for _ in range(k):
            workload.step()
        timer.stop()
    device.synchronize()
    per_step = [t / k for t in timer.elapsed_s()[-args.blocks :]]
    median = statistics.median(per_step)
    print(
        f"{spec.group} on {device.label}: device events, blocks of k={k}: "
        f"median {median * 1e3:.3f} ms/step over {args.blocks} blocks"
    )
    if args.run:
        try:
            run = load_run(args.run)
        except RunError as exc:
            print(f"event_crosscheck: {exc}", file=sys.stderr)
            return 2
        match = next((r for r in run.measured if r.key == spec), None)
        if match is None:
            print("no matching case in the saved run")
        else:
            suite = match.median_s
            print(
                f"suite median {suite * 1e3:.3f} ms/step (k={match.stats.iterations}); "
                f"difference {100 * (suite - median) / median:+.1f}% vs. events"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
