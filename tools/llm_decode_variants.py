"""Ways to write the compiled decode's attention and argmax, timed on CUDA: the evidence
behind ``Block.attend_cache`` (docs/runs/h100/decode_variants.txt).

    python tools/llm_decode_variants.py micro
    python tools/llm_decode_variants.py model --ways graph,ew-cdt,mm-cdt [--profile ew-cdt]

``micro``: one layer's decode attention (Llama-3.2-1B shape: 8 kv heads x 4 query heads,
601 of 640 cached positions, bf16), 64 layers' caches (more than the L2 cache holds) in one
CUDA graph: ``scaled_dot_product_attention`` with each backend, two matmuls and a softmax
(``mm``), and products and sums (``ew``, the model's ``attend_cache``), eager and compiled;
and the argmax of 128,256 logits, eager, compiled and in two stages. ``model``: the suite's
compiled decode (``DeviceDecode``) of the full size, tg128 @ d512, with each way (``WAYS``:
inductor options, attention, argmax), timed with CUDA events against the copy ceiling of the
same process; its first 8 tokens are checked against the eager decode's.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import sys
import time
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from llm_decode_profile import Bench, profile, round_of  # noqa: E402
from llm_event_check import copy_gb_per_s, event_times_s  # noqa: E402

from accelbench import backends  # noqa: E402
from accelbench.backends.torch.cuda_graph import CapturedCall  # noqa: E402
from accelbench.workloads import llm_compiled, llm_model  # noqa: E402
from accelbench.workloads.llm import LanguageModel  # noqa: E402


def attend_matmul(self, q, keys, values, mask):
    """The decode attention as two (batched) matmuls and a softmax in fp32."""
    s = self.size
    batch = q.shape[0]
    grouped = q.reshape(batch, s.kv_heads, s.group, s.head_dim)
    scores = (grouped @ keys.transpose(-1, -2)).float() * s.head_dim**-0.5
    scores = scores.masked_fill(~mask, float("-inf"))
    attended = scores.softmax(-1).to(values.dtype) @ values
    return attended.reshape(batch, 1, s.heads * s.head_dim)


attend_elementwise = llm_model.Block.attend_cache  # products and sums


def chunk_of(n: int) -> int:
    root = math.isqrt(n)
    return min((d for d in range(1, n + 1) if n % d == 0), key=lambda d: abs(d - root))


CHUNK = chunk_of(LanguageModel.SIZES["full"].vocab)


def argmax_two_stage(logits):
    values, index = logits.reshape(-1, CHUNK).max(-1)
    best = values.argmax().reshape(1)
    return (best * CHUNK + index.gather(0, best)).reshape(logits.shape[:-1])


def call_each(calls):
    return [f(*arguments) for f, *arguments in calls]


def graph_time_us(device, fn, calls: int, rounds: int = 20) -> float:
    """Microseconds per call of ``fn`` (``calls`` calls) replayed as one CUDA graph."""
    return statistics.median(event_times_s(device, CapturedCall(fn), rounds)) / calls * 1e6


def micro(device) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.manual_seed(0)
    size = LanguageModel.SIZES["full"]
    block = types.SimpleNamespace(size=size)
    cap, used, layers = 640, 601, 64
    shape = (1, size.kv_heads, cap, size.head_dim)
    dev = device.torch_device()
    ks = [torch.randn(shape, dtype=torch.bfloat16, device=dev) for _ in range(layers)]
    vs = [torch.randn(shape, dtype=torch.bfloat16, device=dev) for _ in range(layers)]
    q = torch.randn(1, 1, size.heads, size.head_dim, dtype=torch.bfloat16, device=dev)
    mask = (torch.arange(cap, device=dev) < used)[None]
    cache_bytes = 2 * used * size.kv_heads * size.head_dim * 2
    reference = llm_model.Block.attend_one(block, q, ks[0][:, :, :used], vs[0][:, :, :used])

    def sdpa(backend):
        def run(q, k, v):
            with sdpa_kernel([backend]):
                return llm_model.Block.attend_one(block, q, k[:, :, :used], v[:, :, :used])

        return run

    ways = {
        "sdpa-default": lambda q, k, v: llm_model.Block.attend_one(
            block, q, k[:, :, :used], v[:, :, :used]
        ),
        "sdpa-flash": sdpa(SDPBackend.FLASH_ATTENTION),
        "sdpa-efficient": sdpa(SDPBackend.EFFICIENT_ATTENTION),
        "sdpa-cudnn": sdpa(SDPBackend.CUDNN_ATTENTION),
        "matmul-eager": lambda q, k, v: attend_matmul(block, q, k, v, mask),
        "elementwise-eager": lambda q, k, v: attend_elementwise(block, q, k, v, mask),
    }
    for name, options in (("cdt", {"coordinate_descent_tuning": True}), ("default", {})):
        ways[f"matmul-compiled-{name}"] = torch.compile(
            lambda q, k, v: attend_matmul(block, q, k, v, mask), options=options or None
        )
        ways[f"elementwise-compiled-{name}"] = torch.compile(
            lambda q, k, v: attend_elementwise(block, q, k, v, mask), options=options or None
        )
    print(f"decode attention, {size.kv_heads} kv heads x {size.group} queries, {used} of {cap}")
    for name, fn in ways.items():
        try:
            with torch.inference_mode():
                out = fn(q, ks[0], vs[0])
                error = (out.float() - reference.float()).abs().max().item()
                start = time.perf_counter()
                calls = [(fn, q, ks[i], vs[i]) for i in range(layers)]
                us = graph_time_us(device, functools.partial(call_each, calls), layers)
                first = time.perf_counter() - start
            print(
                f"  {name:32s} {us:7.2f} us/layer  {cache_bytes / us / 1e3:6.0f} GB/s  "
                f"max err {error:.2e}  ({first:.1f} s)"
            )
        except Exception as exc:
            print(f"  {name:32s} failed: {type(exc).__name__}: {str(exc)[:200]}")
    torch._dynamo.reset()
    vocab = size.vocab
    logits = [torch.randn(1, 1, vocab, dtype=torch.bfloat16, device=dev) for _ in range(layers)]
    ways = {
        "argmax-eager": lambda x: x.argmax(-1),
        "argmax-compiled": torch.compile(lambda x: x.argmax(-1)),
        "argmax-two-stage-compiled": torch.compile(argmax_two_stage),
        "argmax-two-stage-compiled-cdt": torch.compile(
            argmax_two_stage, options={"coordinate_descent_tuning": True}
        ),
    }
    print(f"argmax of {vocab} bf16 logits (chunk {chunk_of(vocab)})")
    for name, fn in ways.items():
        with torch.inference_mode():
            same = all(torch.equal(fn(x), x.argmax(-1)) for x in logits)
            calls = [(fn, x) for x in logits]
            us = graph_time_us(device, functools.partial(call_each, calls), layers)
        print(f"  {name:32s} {us:7.2f} us  same as eager: {same}")


REDUCE_OVERHEAD_CDT = {"triton.cudagraphs": True, "coordinate_descent_tuning": True}
WAYS = {
    # name: (inductor options, attention, argmax)
    "mm-ma": ("max-autotune", attend_matmul, None),
    "ew-ma": ("max-autotune", attend_elementwise, None),
    "ew2-ma": ("max-autotune", attend_elementwise, argmax_two_stage),
    "mm-cdt": (REDUCE_OVERHEAD_CDT, attend_matmul, None),
    "ew-cdt": (REDUCE_OVERHEAD_CDT, attend_elementwise, None),
    "ew2-cdt": (REDUCE_OVERHEAD_CDT, attend_elementwise, argmax_two_stage),
    "ew2-ro": ("reduce-overhead", attend_elementwise, argmax_two_stage),
}


class TwoStageDecode(llm_compiled.DeviceDecode):
    def choose(self, logits):
        return argmax_two_stage(logits)


def decoder_of(workload, way):
    """The compiled decode of ``way`` (``WAYS``), the model's attention set to the way's."""
    options, attention, argmax = WAYS[way]
    torch._dynamo.reset()
    llm_model.Block.attend_cache = attention
    if isinstance(options, str):
        settings = llm_compiled.compile_settings("cuda", mode=options)
    else:
        settings = llm_compiled.CompileSettings("inductor", way, options)
    decode = llm_compiled.DeviceDecode if argmax is None else TwoStageDecode
    return decode(workload.model, workload.cache, workload.first_token, workload.context, settings)


def first_tokens(decoder, workload, count: int = 8) -> list[int]:
    decoder.set(workload.first_token, workload.context)
    return [decoder().argmax(-1).item() for _ in range(count)]


def model(args) -> None:
    bench = Bench.build(args.size, "bf16", 512, args.rounds, 1.0)
    workload = bench.workload
    with torch.inference_mode():
        workload.round_start()
        eager = [workload.generate_token().item() for _ in range(8)]
    for way in args.ways.split(","):
        try:
            with torch.inference_mode():
                decoder = None if way == "graph" else decoder_of(workload, way)
                run = round_of(workload, way, decoder)
                first_s, times = bench.time(run)
                same = None if decoder is None else first_tokens(decoder, workload) == eager
        except Exception as exc:
            print(f"{way}: failed: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            continue
        print(bench.line(way, first_s, times, f"; 8 tokens as eager: {same}"), flush=True)
        if way == args.profile:
            with torch.inference_mode():
                profile(run, bench.tokens, bench.bytes_per_token)
    copy = copy_gb_per_s(bench.device, 1.0, workload.dtype, args.rounds)
    print(f"copy ceiling again: {copy:.0f} GB/s")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("micro", "model"))
    parser.add_argument("--ways", default="graph,ew2-cdt")
    parser.add_argument("--size", default="full")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    if args.what == "micro":
        micro(backends.get_device("torch", "cuda"))
    else:
        model(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
