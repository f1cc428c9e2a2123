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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llm_event_check import copy_gb_per_s, event_times_s  # tools/, beside this file

from accelbench import backends
from accelbench.backends.torch.cuda_graph import CapturedCall
from accelbench.core.spec import CaseSpec, length_variant
from accelbench.workloads import llm_compiled
from accelbench.workloads.llm import CONTEXT, LanguageModel


def round_of(
    workload: LanguageModel, way: str, decoder: llm_compiled.DeviceDecode | None = None
) -> Callable[[], object]:
    """A function that decodes one round of ``generate`` tokens in ``way`` (a compiled way:
    through ``decoder``, by default a ``DeviceDecode`` compiled with inductor's mode ``way``)."""
    if way == "eager":
        return lambda: workload.generate_round()
    if way == "graph":
        return CapturedCall(workload.generate_round)
    if decoder is None:
        import torch._dynamo

        torch._dynamo.reset()
        settings = llm_compiled.compile_settings("cuda", mode=way)
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


@dataclass
class Bench:
    """The suite's tg case on CUDA, its bytes per token, and a copy ceiling timed alike."""

    device: Any
    workload: LanguageModel
    copy_gb_per_s: float
    rounds: int

    @classmethod
    def build(cls, size: str, dtype: str, context: int, rounds: int, copy_gib: float) -> Bench:
        """Builds the case and times the copy; prints what and where."""
        spec = CaseSpec("torch", "llm", "cuda", "tg", dtype, size, length_variant(CONTEXT, context))
        device = backends.get_device("torch", "cuda")
        device.set_precision(dtype)
        workload = LanguageModel(spec, device)
        copy = copy_gb_per_s(device, copy_gib, workload.dtype, rounds)
        where = f"{size} {dtype} tg{workload.size.generate} @ d{context}"
        print(f"{device.label}, torch {torch.__version__}, {where}")
        print(f"copy ceiling ({copy_gib:g} GiB, events): {copy:.0f} GB/s")
        return cls(device, workload, copy, rounds)

    @property
    def tokens(self) -> int:
        return self.workload.size.generate

    @property
    def bytes_per_token(self) -> int:
        return self.workload.bytes_per_step()

    def time(self, run: Callable[[], object]) -> tuple[float, list[float]]:
        """Seconds of ``run``'s first two rounds (compiling, capturing), then ``rounds`` event
        times of a round."""
        start = time.perf_counter()
        run()
        run()
        self.device.synchronize()
        return time.perf_counter() - start, event_times_s(self.device, run, self.rounds)

    def line(self, way: str, first_s: float, times: list[float], note: str = "") -> str:
        """tokens/s, ms/token, GB/s and the share of the copy of the median round."""
        per_token = statistics.median(times) / self.tokens
        rate = self.bytes_per_token / per_token / 1e9
        rounds = f"{min(times) * 1e3 / self.tokens:.3f}..{max(times) * 1e3 / self.tokens:.3f}"
        return (
            f"{way:28s} {1 / per_token:8.1f} tokens/s  {per_token * 1e3:6.3f} ms/token  "
            f"{rate:7.0f} GB/s  {rate / self.copy_gb_per_s:6.1%} of copy  "
            f"(rounds {rounds} ms/token; first two rounds {first_s:.1f} s{note})"
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
    bench = Bench.build(args.size, args.dtype, args.context, args.rounds, args.copy_gib)
    ways = {}
    for way in args.ways.split(","):
        with torch.inference_mode():
            ways[way] = run = round_of(bench.workload, way)
            first_s, times = bench.time(run)
        print(bench.line(way, first_s, times))
    if args.profile:
        print(f"profile of one round, {args.profile}:")
        with torch.inference_mode():
            profile(ways[args.profile], bench.tokens, bench.bytes_per_token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
