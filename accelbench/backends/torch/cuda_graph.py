"""A call captured once as a CUDA graph and replayed: the "graph" execution mode.

Eager PyTorch pays a host-side launch for every kernel. Where a step is many small kernels
(decoding one token at batch 1: about 18 per layer), the host's launch rate, not the GPU,
sets its speed. A CUDA graph records the kernels of one call with their arguments and
replays them with one launch: the same kernels, the same memory, no Python in between.
llama.cpp decodes this way on CUDA by default, and ``torch.compile(mode="reduce-overhead")``
does it after fusing; here the kernels stay the eager ones, so the difference to eager is
launch overhead alone.

What a graph fixes at capture: every shape and every Python value (a position, a slice),
and the addresses of its inputs and outputs. So a call can be captured only where it does
the same thing every time, as a language model's decode round that starts at the same
position each round; the tensors the call returned during capture are its outputs, and
every replay overwrites them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

WARMUP_CALLS = 2  # eager calls on a side stream before capture, as torch.cuda.graphs advises


class CapturedCall:
    """``fn`` captured at the first call (after ``WARMUP_CALLS`` eager calls on a side
    stream, which set up lazily made state such as cuBLAS workspaces), then replayed.

    Calling it returns what ``fn`` returned during capture, refreshed by the replay.
    ``captures`` counts captures, as a compiler's counter counts compilations.
    """

    def __init__(self, fn: Callable[[], Any], cuda: Any = torch.cuda) -> None:
        self.fn = fn
        self.cuda = cuda
        self.graph: Any = None
        self.output: Any = None
        self.captures = 0

    def __call__(self) -> Any:
        if self.graph is None:
            self.capture()
        self.graph.replay()
        return self.output

    def capture(self) -> None:
        side = self.cuda.Stream()
        side.wait_stream(self.cuda.current_stream())
        with torch.inference_mode(), self.cuda.stream(side):
            for _ in range(WARMUP_CALLS):
                self.fn()
        self.cuda.current_stream().wait_stream(side)
        graph = self.cuda.CUDAGraph()
        with torch.inference_mode(), self.cuda.graph(graph):
            self.output = self.fn()
        self.graph = graph
        self.captures += 1


def is_capture_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says that a call could not be captured (an operation that syncs with
    the host, or one that a graph cannot hold): the case skips with it."""
    return isinstance(exc, RuntimeError) and "captur" in str(exc).lower()
