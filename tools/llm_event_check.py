"""Time the language model's pp and tg with device events in a plain loop, outside the suite.

    python tools/llm_event_check.py --size standard --dtype bf16 [--context 512] \
        [--device cuda] [--rounds 20] [--cuda-graph] [--run saved.json]

Builds the suite's model (``accelbench.workloads.llm``, same seeded weights, same prompt)
and times, between two device events each:
- pp: one forward pass over the prompt, ``--rounds`` times;
- tg: a round of ``generate`` tokens from the same position after the prompt (the suite's
  definition), ``--rounds`` times; per token = round / generate;
- with ``--cuda-graph`` (CUDA only): the same tg round captured once as a CUDA graph and
  replayed, which removes the host's per-kernel launch cost: how fast the same kernels run
  when nothing waits for Python. Its last token is checked against the eager round's.
It also times a copy of ``--copy-gib`` GiB (read + write, as the suite's copy ceiling) and
prints tg's GB/s as a share of it. With ``--run``, the suite's medians for the same cases
from a saved pytest-benchmark JSON, and the differences.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelbench import backends
from accelbench.backends.torch.dtypes import TORCH_DTYPES as DTYPES
from accelbench.core.spec import CaseSpec, length_variant
from accelbench.results.runs import Run, RunError, load_run
from accelbench.workloads.llm import CONTEXT, LanguageModel


def event_times_s(device, run: Callable[[], object], rounds: int) -> list[float]:
    """Device time of ``run`` between two events, ``rounds`` times (after one untimed run)."""
    run()
    timer = device.timer()
    for _ in range(rounds):
        timer.start()
        run()
        timer.stop()
    device.synchronize()
    return timer.elapsed_s()[-rounds:]


def copy_gb_per_s(device, gib: float, dtype: torch.dtype, rounds: int) -> float:
    elements = int(gib * 2**30) // torch.empty((), dtype=dtype).element_size()
    src = torch.ones(elements, dtype=dtype, device=device.torch_device())
    dst = torch.empty_like(src)
    median = statistics.median(event_times_s(device, lambda: dst.copy_(src), rounds))
    return 2 * src.numel() * src.element_size() / median / 1e9


def suite_median(run: Run | None, spec: CaseSpec) -> float | None:
    """The saved run's median for the same case (its whole identity), or None."""
    if run is None:
        return None
    match = next((r for r in run.measured if r.key == spec), None)
    return match.median_s if match else None


def report(label: str, per_step_s: float, spec: CaseSpec, run: Run | None, extra: str) -> None:
    line = f"{label}: median {per_step_s * 1e3:.4g} ms/step, {extra}"
    suite = suite_median(run, spec)
    if suite is not None:
        line += (
            f"; suite {suite * 1e3:.4g} ms/step ({100 * (suite - per_step_s) / per_step_s:+.1f}%)"
        )
    elif run is not None:
        line += "; no matching case in the saved run"
    print(line)


def graph_round(workload: LanguageModel) -> tuple[Callable[[], object], torch.Tensor]:
    """One tg round captured as a CUDA graph: the positions are fixed per step, so replaying
    it decodes the same positions again, as every suite round does."""
    n = workload.size.generate
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.inference_mode(), torch.cuda.stream(side):
        for _ in range(2):
            workload.round_start()
            for _ in range(n):
                workload.generate_token()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.inference_mode():
        workload.round_start()
        with torch.cuda.graph(graph):
            for _ in range(n):
                last = workload.generate_token()
    workload.round_start()
    return graph.replay, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="standard")
    parser.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    parser.add_argument("--context", type=int, help="prompt length (default: the size's first)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--copy-gib", type=float, default=2.0)
    parser.add_argument("--cuda-graph", action="store_true")
    parser.add_argument("--run", help="saved pytest-benchmark JSON to compare with")
    args = parser.parse_args()

    try:
        run = load_run(args.run) if args.run else None
    except RunError as exc:
        print(f"llm_event_check: {exc}", file=sys.stderr)
        return 2
    context = args.context or LanguageModel.SIZES[args.size].contexts[0]
    variant = length_variant(CONTEXT, context)
    device = backends.get_device("torch", args.device)
    if device.unusable_reason or device.timer() is None:
        print(device.unusable_reason or f"{args.device} has no device events")
        return 2
    device.set_precision(args.dtype)
    copy = copy_gb_per_s(device, args.copy_gib, DTYPES[args.dtype], args.rounds)
    print(f"{device.label}, {args.dtype}: copy {args.copy_gib:g} GiB: {copy:.4g} GB/s")

    spec = CaseSpec("torch", "llm", args.device, "pp", args.dtype, args.size, variant)
    pp = LanguageModel(spec, device)
    per_step = statistics.median(event_times_s(device, pp.step, args.rounds))
    tflops = pp.flops_per_step() / per_step / 1e12
    extra = f"{context / per_step:.4g} tokens/s, {tflops:.3g} TFLOP/s"
    report(f"pp{context}", per_step, spec, run, extra)
    del pp

    spec = CaseSpec("torch", "llm", args.device, "tg", args.dtype, args.size, variant)
    tg = LanguageModel(spec, device)
    n = tg.size.generate

    def eager_round() -> object:
        tg.round_start()
        for _ in range(n):
            last = tg.step()
        return last

    rounds = event_times_s(device, eager_round, args.rounds)
    eager_last = eager_round()
    device.synchronize()
    name = f"tg{n} @ d{context}"
    per_token = statistics.median(rounds) / n
    gbs = tg.bytes_per_step() / per_token / 1e9
    extra = f"{1 / per_token:.4g} tokens/s, {gbs:.4g} GB/s = {gbs / copy:.0%} of copy"
    report(f"{name}, eager", per_token, spec, run, extra)

    if args.cuda_graph:
        if args.device != "cuda":
            print("--cuda-graph: CUDA only")
            return 2
        replay, graph_last = graph_round(tg)
        per_token = statistics.median(event_times_s(device, replay, args.rounds)) / n
        gbs = tg.bytes_per_step() / per_token / 1e9
        same = bool(torch.equal(graph_last, eager_last))
        extra = f"{1 / per_token:.4g} tokens/s, {gbs:.4g} GB/s = {gbs / copy:.0%} of copy"
        print(
            f"{name}, one CUDA graph per round: {per_token * 1e3:.4g} ms/token, {extra}; "
            f"last token {'equals' if same else 'DIFFERS FROM'} the eager round's"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
