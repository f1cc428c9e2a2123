"""Eager against compiled for one step, timed with device events in a plain loop of its own.

    python tools/mode_check.py accelbench.workloads.resnet18:ResNet18 --phase train \
        --size full --dtype bf16 --batch 256 --memory-format channels_last \
        --modes eager,compile [--device cuda] [--run saved.json]

An independent check of the suite's figures for execution modes: the workload is built as
the suite builds it (same weights, inputs, layout, and ``compile_step``), but the timing is
this script's own. Per mode: the first call timed with a synchronized host clock (for
compile, compilation plus one step), a fixed warm-up, then blocks of k steps between two
device events; the median time per step, throughput and TFLOP/s, and compiled over eager.
With ``--run``, the suite's median for the same case from a saved JSON and the difference.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelbench import backends
from accelbench.core.saved_form import FIGURES
from accelbench.core.spec import (
    EAGER,
    MEMORY_FORMATS,
    MODES,
    NCHW,
    CaseSpec,
    batch_variant,
    layout_value,
)
from accelbench.results.record import Record
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
    parser.add_argument("--batch", default="", help="batch size instead of the profile's")
    parser.add_argument("--memory-format", default=NCHW, choices=MEMORY_FORMATS)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--warmup-steps", type=int, default=20)
    parser.add_argument("--block-ms", type=float, default=50.0, help="target length of a block")
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument(
        "--cudnn-benchmark", action="store_true", help="let cuDNN autotune (the suite does not)"
    )
    parser.add_argument("--run", help="saved pytest-benchmark JSON to compare with")
    args = parser.parse_args()

    module_name, class_name = args.workload.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    device = backends.get_device(cls.framework, args.device)
    if device.unusable_reason:
        print(device.unusable_reason)
        return 2
    if device.timer() is None:
        print(f"{args.device} has no device events")
        return 2
    if args.cudnn_benchmark:
        import torch

        torch.backends.cudnn.benchmark = True
    try:
        saved = load_run(args.run).measured if args.run else None
    except RunError as exc:
        print(f"mode_check: {exc}", file=sys.stderr)
        return 2
    medians: dict[str, float] = {}
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        spec = CaseSpec(
            cls.framework,
            cls.name,
            args.device,
            args.phase,
            args.dtype,
            args.size,
            batch_variant(args.variant, int(args.batch)) if args.batch else args.variant,
            mode=mode,
            memory_format=layout_value(args.memory_format),
        )
        reason = cls.mode_unsupported_reason(spec, device)
        if reason:
            print(f"{spec.group}: {reason}")
            continue
        medians[mode] = measure(cls, spec, device, args, saved)
    if EAGER in medians and len(medians) > 1:
        for mode, median in medians.items():
            if mode != EAGER:
                print(f"{mode} over eager: {medians[EAGER] / median:.2f}x")
    return 0


def measure(cls: Any, spec: CaseSpec, device: Any, args: Any, saved: list[Record] | None) -> float:
    cls.clear_compiled()
    device.set_precision(spec.dtype)  # as the suite does: fp32 is strict, TF32 off
    workload = cls(spec, device)
    if spec.mode != EAGER:
        workload.compile_step()
    device.synchronize()
    t0 = time.perf_counter()
    workload.step()
    device.synchronize()
    first_s = time.perf_counter() - t0
    for _ in range(args.warmup_steps):
        workload.step()
    device.synchronize()
    timer = device.timer()
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
    median = statistics.median(t / k for t in timer.elapsed_s()[-args.blocks :])
    with workload_eager(workload):
        flops = workload.flops_per_step()
    rate = workload.items_per_step / median
    line = (
        f"{spec.group} on {device.label}: first call {first_s:.2f} s; device events, "
        f"blocks of k={k}: median {median * 1e3:.3f} ms/step, {rate:,.0f} {workload.item_unit}/s"
    )
    if flops:
        line += f", {flops / median / 1e12:.1f} TFLOP/s"
    print(line)
    if saved is not None:
        print(suite_line(spec, saved, median))
    cls.clear_compiled()
    return median


def workload_eager(workload: Any) -> Any:
    """The workload's eager context where it has one (PyTorch), else nothing."""
    import contextlib

    return getattr(workload, "eager", contextlib.nullcontext)()


def suite_line(spec: CaseSpec, records: list[Record], median: float) -> str:
    match = next((r for r in records if r.key == spec), None)
    if match is None:
        return "  no matching case in the saved run"
    suite, compile_s = match.median_s, match.compile_time_s
    extra = (
        f"; suite compile time {FIGURES['compile_time_s'].format(compile_s)}" if compile_s else ""
    )
    return (
        f"  suite median {suite * 1e3:.3f} ms/step (k={match.steps_per_round}); "
        f"difference {100 * (suite - median) / median:+.1f}% vs. events{extra}"
    )


if __name__ == "__main__":
    sys.exit(main())
