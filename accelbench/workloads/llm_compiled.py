"""The PyTorch language model's compile mode: ``torch.compile`` of the step, and a decode whose
position lives on the device.

A decode step written with a Python position (``DecoderLM.forward(token, 512, cache)``) is a
different program at every position: its cache slice and rotary row are constants, so a
compiler with static shapes compiles it again for each token (and past dynamo's recompile
limit would fall back to eager). ``DeviceDecode`` keeps the next token and its position as
tensors on the device instead, as gpt-fast does: one call runs ``DecoderLM.decode`` (the
cache written at the position with ``index_copy_`` and read whole, the later positions
masked), takes the argmax into the token tensor and adds one to the position, all inside the
compiled graph. So one graph serves every position, a token is one call, and nothing waits
for the host.

Settings (``compile_settings``), recorded with every case: on CUDA ``max-autotune``
(inductor's autotuned matmul and reduction kernels, and the step replayed as a CUDA graph,
as ``reduce-overhead`` does), ``fullgraph=True`` (a graph break would leave part of a
token to Python: an error, not a slower figure) and static shapes; elsewhere inductor's
default mode (CUDA graphs exist on CUDA only). The tensors a step mutates (cache, token,
position) are marked as static addresses, so the CUDA graph reads and writes them in place
instead of copying them in and out at every replay. q/k/v and gate/up are already one
matmul each in the model.

Bytes per token stay the eager count (the cache up to the position): the compiled step reads
the whole cache, masked, so its true traffic is a little higher and its GB/s a little
conservative, never inflated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from accelbench.backends.torch.workload import _compile_counters
from accelbench.workloads.llm_model import DecoderLM, KVCache

CUDA_MODE = "max-autotune"
OTHER_MODE = "default"


@dataclass(frozen=True)
class CompileSettings:
    """What ``torch.compile`` is called with: ``backend``, inductor's ``mode`` (named in the
    saved case) and the inductor options it stands for."""

    backend: str
    mode: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def cuda_graphs(self) -> bool:
        return bool(self.options.get("triton.cudagraphs"))

    def compile(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """``fn`` compiled: whole (``fullgraph``), static shapes. Under CUDA graphs each call
        starts a new step of cudagraph trees, so an output of the previous call may be
        overwritten (a caller that keeps one clones it)."""
        kwargs: dict[str, Any] = {"backend": self.backend, "fullgraph": True, "dynamic": False}
        if self.backend == "inductor" and self.options:
            kwargs["options"] = dict(self.options)
        compiled = torch.compile(fn, **kwargs)
        if not self.cuda_graphs:
            return compiled

        def call() -> Any:
            torch.compiler.cudagraph_mark_step_begin()
            return compiled()

        return call

    def facts(self) -> dict[str, Any]:
        return {"compile_backend": self.backend, "compile_mode": self.mode}


def compile_settings(
    device_type: str, backend: str = "inductor", mode: str | None = None
) -> CompileSettings:
    """The settings for a device: inductor's ``mode`` (by default ``CUDA_MODE`` on CUDA, its
    default mode elsewhere); a backend other than inductor (the suite's own tests use
    dynamo's ``eager``) takes none."""
    if backend != "inductor":
        return CompileSettings(backend, OTHER_MODE)
    mode = mode or (CUDA_MODE if device_type == "cuda" else OTHER_MODE)
    import torch._inductor

    return CompileSettings(backend, mode, dict(torch._inductor.list_mode_options(mode)))


def compilations() -> int:
    """Graphs torch._dynamo has compiled in this process (first compiles and recompiles).
    Its frame counter, which the other workloads read, stays at 0 under ``fullgraph=True``
    (torch 2.14)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def compile_counters() -> dict[str, int]:
    """What the compiler has done in this process, as the other compiled workloads record it,
    and the graphs inductor declined to replay as CUDA graphs (``cudagraph_skips``: a reason
    is logged; such a step pays a launch per kernel)."""
    from torch._dynamo.utils import counters

    skips = int(counters["inductor"]["cudagraph_skips"])
    return _compile_counters(counters) | {"cudagraph_skips": skips}


class DeviceDecode:
    """tg's decode state on the device: the next ``token`` (1, 1) and its ``position`` (1,),
    advanced by each call of the compiled ``advance``. Built outside inference mode (its
    tensors are ordinary ones, which ``set`` may write between rounds, outside it), called
    inside it."""

    def __init__(
        self,
        model: DecoderLM,
        cache: KVCache,
        token: torch.Tensor,
        position: int,
        settings: CompileSettings,
    ) -> None:
        self.model = model
        self.cache = cache
        self.token = token.clone()
        self.position = torch.full((1,), position, dtype=torch.long, device=token.device)
        for tensor in (*cache.tensors(), self.token, self.position):
            torch._dynamo.mark_static_address(tensor)
        self.step = settings.compile(self.advance)

    def advance(self) -> torch.Tensor:
        """One token at ``position``: its logits (1, 1, vocab); the token they choose becomes
        ``token`` and the position moves on by one."""
        logits = self.model.decode(self.token, self.position, self.cache)
        self.token.copy_(self.choose(logits))
        self.position.add_(1)
        return logits

    def choose(self, logits: torch.Tensor) -> torch.Tensor:
        """The next token of ``logits`` (1, 1, vocab): greedy, the argmax, (1, 1)."""
        return logits.argmax(-1)

    def set(self, token: torch.Tensor, position: int) -> None:
        """Put the decode at ``position`` with ``token`` to go in there (device work only)."""
        self.token.copy_(token)
        self.position.fill_(position)

    def __call__(self) -> torch.Tensor:
        return self.step()
