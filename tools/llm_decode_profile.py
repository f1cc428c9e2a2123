"""Where a decoded token's time goes: the language model's tg in each way of running it, timed
with CUDA events, and the kernels of one token from torch.profiler.

    python tools/llm_decode_profile.py [--size full] [--dtype bf16] [--context 512] \
        [--ways graph,reduce-overhead,max-autotune] [--rounds 10] [--profile max-autotune]

Builds the suite's workload (``accelbench.workloads.llm``: same seeded weights, prompt and
cache) on CUDA and, for each way, times rounds of ``generate`` tokens from the same
position after the prompt, between two CUDA events:

- ``eager``: the suite's eager decode; ``graph``: a round captured as one CUDA graph;
- ``reduce-overhead``, ``max-autotune``, ``max-autotune-no-cudagraphs``: the compile mode's
  ``DeviceDecode`` (``accelbench.workloads.llm_compiled``) compiled with that inductor mode.

GB/s uses the suite's bytes per token (``LanguageModel.bytes_per_step``) and is set against a
copy of ``--copy-gib`` GiB timed the same way (read + write, as the suite's copy ceiling).
With ``--profile WAY``: a torch.profiler trace of one round in that way, its kernels grouped
by name with their share of the round's GPU time and, for the matmuls, GB/s of the weight
each reads (from the shapes torch records; inductor's own kernels show no shapes).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llm_event_check import copy_gb_per_s, event_times_s  # tools/, beside this file

from accelbench import backends
from accelbench.backends.torch.cuda_graph import CapturedCall
from accelbench.core.spec import CaseSpec, length_variant
from accelbench.workloads import llm_compiled
from accelbench.workloads.llm import CONTEXT, LanguageModel


def round_of(workload: LanguageModel, way: str) -> Callable[[], object]:
    """A function that decodes one round of ``generate`` tokens in ``way``."""
    if way == "eager":
        return lambda: workload.generate_round()
    if way == "graph":
        return CapturedCall(workload.generate_round)
    import torch._dynamo
    import torch._inductor

    torch._dynamo.reset()
    settings = llm_compiled.CompileSettings(
        "inductor", way, dict(torch._inductor.list_mode_options(way))
    )
    decoder = llm_compiled.DeviceDecode(
        workload.model, workload.cache, workload.first_token, workload.context, settings
    )

    def decode_round() -> object:
        decoder.set(workload.first_token, workload.context)
        for _ in range(workload.size.generate):
            token = decoder()
        return token

    return decode_round


def profile(run: Callable[[], object], tokens: int, bytes_per_token: float) -> None:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    run()
    torch.cuda.synchronize()
    with profiler(activities=[ProfilerActivity.CUDA], record_shapes=True) as prof:
        run()
        torch.cuda.synchronize()
    events = prof.key_averages(group_by_input_shape=True)
    rows = [e for e in events if e.device_time_total > 0]
    total = sum(e.self_device_time_total for e in rows)
    print(f"  profiled round: {total / 1e3:.2f} ms of kernels, {total / tokens:.1f} us per token")
    print(f"  suite bytes per token {bytes_per_token / 1e6:.1f} MB")
    for e in sorted(rows, key=lambda e: -e.self_device_time_total)[:25]:
        per_call = e.self_device_time_total / max(e.count, 1)
        note = ""
        shapes = getattr(e, "input_shapes", None) or []
        if e.key in ("aten::mm", "aten::addmm", "aten::linear") and len(shapes) >= 2:
            weight = shapes[1]
            if len(weight) == 2:
                mb = weight[0] * weight[1] * 2 / 1e6
                note = f" weight {weight} {mb:.1f} MB -> {mb / per_call * 1e3:.0f} GB/s"
        print(
            f"  {e.self_device_time_total / total:6.1%} {e.count:6d} x {per_call:8.1f} us "
            f"{e.key[:70]}{note}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="full")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--ways", default="eager,graph,reduce-overhead,max-autotune")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--copy-gib", type=float, default=1.0)
    parser.add_argument("--profile", default="")
    parser.add_argument("--shape", default="", help="d,layers,heads,kv,ffn,vocab,tied: a shape")
    args = parser.parse_args()
    if args.shape:
        d, layers, heads, kv, ffn, vocab, tied = (int(x) for x in args.shape.split(","))
        shape = dataclasses.replace(
            LanguageModel.SIZES[args.size],
            d_model=d,
            layers=layers,
            heads=heads,
            kv_heads=kv,
            ffn=ffn,
            vocab=vocab,
            tied=bool(tied),
            shape_of=f"custom {args.shape}",
        )
        LanguageModel.SIZES[args.size] = shape
    spec = CaseSpec(
        "torch", "llm", "cuda", "tg", args.dtype, args.size, length_variant(CONTEXT, args.context)
    )
    device = backends.get_device("torch", "cuda")
    device.set_precision(args.dtype)
    workload = LanguageModel(spec, device)
    tokens = workload.size.generate
    bytes_per_token = workload.bytes_per_step()
    copy = copy_gb_per_s(device, args.copy_gib, workload.dtype, args.rounds)
    where = f"{spec.size} {spec.dtype} tg{tokens} @ d{args.context}"
    print(f"{device.label}, torch {torch.__version__}, {where}")
    print(f"copy ceiling ({args.copy_gib:g} GiB, events): {copy:.0f} GB/s")
    ways = {}
    for way in args.ways.split(","):
        with torch.inference_mode():
            run = round_of(workload, way)
            start = time.perf_counter()
            run()
            run()
            device.synchronize()
            first_s = time.perf_counter() - start
            times = event_times_s(device, run, args.rounds)
        per_token = statistics.median(times) / tokens
        rate = bytes_per_token / per_token / 1e9
        ways[way] = run
        print(
            f"{way:28s} {1 / per_token:8.1f} tokens/s  {per_token * 1e3:6.3f} ms/token  "
            f"{rate:7.0f} GB/s  {rate / copy:6.1%} of copy  "
            f"(rounds {min(times) * 1e3 / tokens:.3f}..{max(times) * 1e3 / tokens:.3f} ms/token; "
            f"first two rounds {first_s:.1f} s)"
        )
    if args.profile:
        print(f"profile of one round, {args.profile}:")
        with torch.inference_mode():
            profile(ways[args.profile], tokens, bytes_per_token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
