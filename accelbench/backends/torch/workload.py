"""The PyTorch workload base: a torch.nn.Module on synthetic data, stepped eagerly or through
torch.compile, in the default layout or channels_last."""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from accelbench.backends.torch.dtypes import dtype_name, reduced_dtype
from accelbench.core.compiled import Compilable
from accelbench.core.device import first_line
from accelbench.core.spec import CHANNELS_LAST, CaseSpec
from accelbench.core.workload import SEED, Workload


class TorchWorkload(Compilable, Workload):
    """A torch.nn.Module trained with a loss and an optimizer, on synthetic data.

    Weights and inputs are created on the CPU from a fixed seed and then moved, so the
    same case built on two devices starts from identical numbers. Reduced precision runs
    through autocast (mixed precision); fp32 runs without it.

    Compiled (mode "compile", ``compile_step``): ``torch.compile`` with static shapes
    (``dynamic=False``: a new shape recompiles, counted, rather than switching to slower
    shape-generic kernels) of the forward pass for inference, and of forward and loss
    together for training, so the loss (a large log-softmax over a vocabulary for the
    Transformer) fuses with the head and AOTAutograd compiles the backward of both. The
    optimizer step stays eager: ``loss.backward()`` ends the compiled graph anyway, and the
    optimizers' foreach kernels already run a few fused launches per step.
    """

    framework = "torch"
    modes = ("eager", "compile")
    # Reduced precision through autocast (False: the workload casts its tensors itself).
    runs_under_autocast: ClassVar[bool] = True
    # torch.compile's backend; the suite's own tests use "eager" (dynamo without inductor)
    # where they test the harness rather than the compiler.
    compile_backend: ClassVar[str] = "inductor"

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        super().__init__(spec, device)
        import torch

        self.torch = torch
        self.torch_device = device.torch_device()
        torch.manual_seed(SEED)
        self.model = self.build_model().to(self.torch_device)
        generator = torch.Generator().manual_seed(SEED + 1)
        inputs, targets = self.make_batch(generator)
        self.inputs = tuple(t.to(self.torch_device) for t in inputs)
        self.targets = targets.to(self.torch_device) if targets is not None else None
        if spec.memory_format == CHANNELS_LAST:
            self.model = self.model.to(memory_format=torch.channels_last)
            self.inputs = tuple(
                t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
                for t in self.inputs
            )
        self.training = spec.phase == "train"
        self.model.train(self.training)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = self.make_optimizer(params) if self.training and params else None
        self._last_output_dtype: Any = None
        # What step and parity_outputs call: the eager methods, or their compiled versions.
        self.run_forward = self.forward
        self.run_forward_and_loss = self.forward_and_loss

    # What a subclass writes -------------------------------------------------------------

    @abstractmethod
    def build_model(self) -> Any:
        """The torch.nn.Module, built on the CPU."""

    @abstractmethod
    def make_batch(self, generator: Any) -> tuple[tuple[Any, ...], Any]:
        """``(inputs, targets)`` on the CPU, drawn from ``generator``."""

    def loss(self, output: Any, targets: Any) -> Any:
        return self.torch.nn.functional.cross_entropy(output.float(), targets)

    def make_optimizer(self, params: list[Any]) -> Any:
        return self.torch.optim.SGD(params, lr=0.01, momentum=0.9)

    # The contract ---------------------------------------------------------------------------

    @property
    def compute_dtype(self) -> Any:
        return reduced_dtype(self.spec.dtype)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.compute_dtype is None:
            return contextlib.nullcontext()
        return self.torch.autocast(self.torch_device.type, dtype=self.compute_dtype)

    def forward(self) -> Any:
        with self.autocast():
            output = self.model(*self.inputs)
        self._last_output_dtype = output.dtype
        return output

    def forward_and_loss(self) -> tuple[Any, Any]:
        """The part of a training step that compile mode compiles."""
        output = self.forward()
        return output, self.loss(output, self.targets)

    def step(self) -> Any:
        if not self.training:
            with self.torch.inference_mode():
                return self.run_forward()
        self.optimizer.zero_grad(set_to_none=True)
        _output, loss = self.run_forward_and_loss()
        loss.backward()
        self.optimizer.step()
        return loss

    def parity_outputs(self) -> dict[str, np.ndarray]:
        """The forward output, the loss and the gradient of the last (head) parameter.

        Early-layer gradients of a randomly initialised network are left out: they are
        dominated by cancellation (BatchNorm's backward subtracts the batch mean), so their
        error measures conditioning, not correctness. Measured on an H200 against the CPU,
        ResNet18 in strict fp32 had logits within 1.5e-6 but bn1.bias's gradient 4.8e-3
        apart; with TF32 convolutions 0.13, with bf16 autocast 0.44.
        """
        if not self.training:
            with self.torch.inference_mode():
                return {"output": to_numpy(self.run_forward())}
        self.model.zero_grad(set_to_none=True)
        output, loss = self.run_forward_and_loss()
        loss.backward()
        outputs = {"output": to_numpy(output), "loss": to_numpy(loss)}
        named = [(n, p) for n, p in self.model.named_parameters() if p.grad is not None]
        if named:
            name, param = named[-1]
            outputs[f"grad[{name}]"] = to_numpy(param.grad)
        self.model.zero_grad(set_to_none=True)
        return outputs

    @classmethod
    def estimated_step_s(cls, spec: CaseSpec, device: Any) -> tuple[float, str] | None:
        """On a CPU that only emulates the dtype, from the case's fp32 twin
        (accelbench.backends.torch.slow_dtypes); autocast's slowdown says nothing of a
        workload that casts its tensors itself."""
        if not cls.runs_under_autocast:
            return None
        from accelbench.backends.torch.slow_dtypes import estimate_from_fp32

        return estimate_from_fp32(cls, spec, device)

    def flops_per_step(self) -> int | None:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with self.eager(), counter:  # compiled kernels would hide their work from the counter
            self.step()
        self.device.synchronize()
        return int(counter.get_total_flops()) or None

    @contextlib.contextmanager
    def eager(self) -> Iterator[None]:
        """Run the eager methods meanwhile, even when compiled (the same math, countable)."""
        compiled = self.run_forward, self.run_forward_and_loss
        self.run_forward, self.run_forward_and_loss = self.forward, self.forward_and_loss
        try:
            yield
        finally:
            self.run_forward, self.run_forward_and_loss = compiled

    # Compiled execution -----------------------------------------------------------------

    @classmethod
    def mode_unsupported_reason(cls, spec: CaseSpec, device: Any) -> str | None:
        reason = super().mode_unsupported_reason(spec, device)
        if reason or spec.mode == "eager" or cls.compile_backend != "inductor":
            return reason
        return inductor_unavailable_reason(spec.device)

    def compile_step(self) -> None:
        import torch._dynamo
        from torch._dynamo.utils import counters

        # Past dynamo's recompile limit a frame silently runs eagerly: inside a compiled
        # figure that must be an error, not a fallback.
        torch._dynamo.config.fail_on_recompile_limit_hit = True
        self._counters_at_compile = _compile_counters(counters)
        compile_ = self.torch.compile
        options = {"backend": self.compile_backend, "dynamic": False}
        self.run_forward = compile_(self.forward, **options)
        self.run_forward_and_loss = compile_(self.forward_and_loss, **options)

    def compilations(self) -> int | None:
        """Frames torch._dynamo has compiled in this process (first compiles and recompiles)."""
        from torch._dynamo.utils import counters

        return int(counters["frames"]["ok"])

    def compile_facts(self) -> dict[str, Any]:
        """Since ``compile_step``: graphs compiled, graph breaks (each leaves a piece of the
        step to run eagerly), and inductor's FX graph cache hits and misses (a hit skips code
        generation: a compile time measured with a warm cache is shorter than a cold one)."""
        from torch._dynamo.utils import counters

        start, now = self._counters_at_compile, _compile_counters(counters)
        return {"compile_backend": self.compile_backend} | {k: now[k] - start[k] for k in now}

    @classmethod
    def is_compile_failure(cls, exc: BaseException) -> bool:
        """torch.compile could not compile the step (dynamo or the backend raised); hitting the
        recompile limit is not one: it would fall back to eager inside a compiled figure."""
        import torch._dynamo.exc as dynamo_exc

        limit_hit = getattr(dynamo_exc, "FailOnRecompileLimitHit", ())
        return isinstance(exc, dynamo_exc.TorchDynamoException) and not isinstance(exc, limit_hit)

    @classmethod
    def clear_compiled(cls) -> None:
        import torch._dynamo

        torch._dynamo.reset()

    def threads(self) -> int | None:
        return self.torch.get_num_threads()

    def dtype_ran(self) -> str:
        if self._last_output_dtype is None:
            self.step()
        return dtype_name(self._last_output_dtype, self.device.float32_mode())


def to_numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def _compile_counters(counters: Any) -> dict[str, int]:
    return {
        "compiled_graphs": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "fx_graph_cache_hits": int(counters["inductor"]["fxgraph_cache_hit"]),
        "fx_graph_cache_misses": int(counters["inductor"]["fxgraph_cache_miss"]),
    }


def inductor_unavailable_reason(device: str) -> str | None:
    """Why torch.compile's default backend (inductor) cannot generate code for ``device`` here;
    None when it can (a compile that still fails skips with the compiler's error)."""
    import torch

    if not torch._dynamo.is_dynamo_supported():
        return f"torch.compile is not supported with this Python by torch {torch.__version__}"
    if device == "cpu":
        from torch._inductor import cpp_builder

        try:
            cpp_builder.get_cpp_compiler()
        except Exception as exc:
            return f"torch.compile on the CPU needs a C++ compiler (inductor): {first_line(exc)}"
    if device == "cuda":
        from torch.utils._triton import has_triton

        if not has_triton():
            return "torch.compile on CUDA needs triton (inductor's GPU code generator)"
    return None
