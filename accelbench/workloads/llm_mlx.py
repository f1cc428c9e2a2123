"""Language-model inference in MLX: the PyTorch workload's twin (accelbench.workloads.llm).

The same decoder (``llm_model_mlx``, the PyTorch model layer for layer) on the same weights:
drawn by the PyTorch builder's ``seeded_weights`` on the host in fp32 from the fixed seed,
converted one matrix at a time and stored in the run's dtype. The same prompt and
teacher-forced tokens (``seeded_tokens``), sizes, variants (``ctx-L=<n>``) and phases:

- ``pp``: one step is one forward pass over the prompt from position 0, filling the cache,
  with the last position's next-token logits.
- ``tg``: the prompt is processed once, untimed, when the case is built; one step is one
  generated token, greedy (``mx.argmax`` on the device: the token is an array that the next
  step reads, nothing waits for the host); a timed round is ``generate`` tokens starting at
  the first position after the prompt (``round_start``).

Items, FLOPs and bytes per step are the PyTorch workload's functions. Each step queues the
evaluation of its result and the updated cache (``mx.async_eval``, in ``MlxWorkload.step``)
and the device synchronizes at the end of each timed round, as every MLX workload does.
Parity, on every MLX device, the CPU included, is against the PyTorch workload on the
PyTorch CPU in fp32: the same outputs under the same names (pp's prompt logits; tg's
teacher-forced logits and the greedy tokens with their logits), compared by
``accelbench.core.parity``.

Compile mode (``mx.compile``): pp's forward pass as it is; tg's decode with its token and
position as arrays (``MlxDecoderLM.decode``: the cache written with ``mx.slice_update`` and
read whole, the later positions masked), so one traced graph serves every position, as the
PyTorch compile mode does. The cache, the token and the position are the compiled
function's inputs and outputs (``state``); the Python-side bookkeeping of a round (start
over at the cache's end) stays outside it.

Quantized weights (``ctx-w4-L=512``, ``ctx-w8-L=512``): MLX's own quantization
(``llm_quant_mlx``: ``mx.quantize``, groups of 64, and ``mx.quantized_matmul``, as mlx-lm);
bytes per token count the packed weights with their scales and biases. Their parity is
against the same quantized weights given back as fp32 matrices, in MLX on the CPU in fp32
(``MlxQuantizedReference``): PyTorch has other kernels and another format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from accelbench.backends.mlx.workload import MlxWorkload
from accelbench.core.parity import GENERATED_LOGITS, GENERATED_TOKENS
from accelbench.core.spec import COMPILE, EAGER, CaseSpec
from accelbench.core.workload import SEED, Workload
from accelbench.workloads.llm import (
    PROMPT_PARITY_ROWS,
    GreedyDecode,
    LanguageModel,
    cache_capacity,
    case_shapes,
    check_fits,
    context_length,
    seeded_tokens,
    spread,
    step_bytes,
    step_flops,
    tokens_per_step,
)
from accelbench.workloads.llm_model_mlx import MlxDecoderLM, MlxKVCache, mlx_weights
from accelbench.workloads.llm_quant_mlx import quantized_mlx_weights
from accelbench.workloads.llm_weights import MLX_FORMATS, weights_of


class MlxLanguageModel(GreedyDecode, MlxWorkload):
    """One prompt length of the decoder-only Transformer in MLX, in phase pp or tg, batch 1."""

    name = LanguageModel.name
    item_unit = LanguageModel.item_unit
    phases = LanguageModel.phases
    modes = (EAGER, COMPILE)  # graph mode is PyTorch's CUDA graphs
    SIZES = LanguageModel.SIZES
    yardsticks = LanguageModel.yardsticks
    twin = LanguageModel
    weight_formats = MLX_FORMATS

    dequantize = False  # MlxQuantizedReference: the quantized weights as fp32 matrices

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        self.context = context_length(spec)
        self.weights = weights_of(spec.variant)
        super().__init__(spec, device)

    @classmethod
    def parity_reference(cls, spec: CaseSpec) -> tuple[type[Workload], CaseSpec]:
        """Quantized weights: MLX's own dequantized weights on MLX's CPU in fp32."""
        if weights_of(spec.variant):
            return MlxQuantizedReference, spec.reference()
        return super().parity_reference(spec)

    @classmethod
    def estimated_step_s(cls, spec: CaseSpec, device: Any) -> tuple[float, str] | None:
        """Unquantized only: quantized matmuls are MLX's own kernels, not the BLAS whose
        slowdown the probe measures; their first step is timed instead."""
        return None if weights_of(spec.variant) else super().estimated_step_s(spec, device)

    def build_twin(self) -> None:
        """No PyTorch model is built: ``setup`` draws its weights as the PyTorch builder does,
        one matrix at a time, and converts each as it comes."""
        return None

    def setup(self, twin: None) -> None:
        """The memory check first; then weights, cache and tokens; in tg the prompt, untimed."""
        mx = self.mx
        self.capacity = cache_capacity(self.size, self.spec.phase, self.context)
        self.check_memory()
        self.dtype = self.compute_dtype or mx.float32
        if self.weights:
            fmt = self.weight_formats[self.weights]
            drawn = quantized_mlx_weights(self.size, SEED, self.dtype, mx, fmt, self.dequantize)
        else:
            drawn = mlx_weights(self.size, SEED, self.dtype, mx)
        weights = dict(drawn)
        self.model = MlxDecoderLM(self.size, weights, mx)
        self.cache = MlxKVCache.empty(self.size, 1, self.capacity, self.dtype, mx)
        prompt, forced = seeded_tokens(self.size, self.context)
        self.prompt = mx.array(prompt.numpy().astype(np.int32))
        self.forced = mx.array(forced.numpy().astype(np.int32))
        mx.eval(self.cache.arrays(), self.prompt, self.forced)

        self.position = self.context
        self.token: Any = None
        self.logits: Any = None
        self.decoder: MlxDeviceDecode | None = None  # compile mode's tg state
        if self.spec.phase == "tg":  # the prompt, processed once, untimed
            self.prompt_logits = self.model(self.prompt, 0, self.cache)
            self.first_token = mx.argmax(self.prompt_logits, axis=-1)
            mx.eval(self.prompt_logits, self.first_token, self.cache.arrays())
            self.round_start()

    # The steps ----------------------------------------------------------------------------

    def make_step(self) -> Callable[[], Any]:
        return self.process_prompt if self.spec.phase == "pp" else self.generate_token

    def state(self) -> list[Any]:
        """The cache every step writes (and in compile mode's tg the token and position):
        evaluated with the step's result."""
        if self.decoder is not None:
            return [*self.cache.arrays(), self.decoder.state]
        return self.cache.arrays()

    def compile_step(self) -> None:
        """pp: ``mx.compile`` of the forward pass (``MlxWorkload.compile_step``). tg: the
        decode with its token and position as arrays (``MlxDeviceDecode``); a step is
        ``generate_token`` around it."""
        if self.spec.phase == "pp":
            super().compile_step()
            return
        self.decoder = MlxDeviceDecode(self.model, self.cache, self.first_token, self.context)
        self._step = self.generate_token

    def process_prompt(self) -> Any:
        """pp: the whole prompt in one forward pass; the last position's logits."""
        self.logits = self.model(self.prompt, 0, self.cache)
        return self.logits

    def argmax(self, logits: Any) -> Any:
        return self.mx.argmax(logits, axis=-1)

    def steps_per_round(self) -> int | None:
        return self.size.generate if self.spec.phase == "tg" else None

    # Parity ---------------------------------------------------------------------------------

    def parity_outputs(self) -> dict[str, np.ndarray]:
        """What the PyTorch workload's ``parity_outputs`` gives, under the same names: pp the
        logits at ``PROMPT_PARITY_ROWS`` prompt positions; tg the teacher-forced logits and a
        greedy generation through ``generate_token`` itself (the prompt's next token first),
        each step evaluated before the next."""
        mx = self.mx
        with self.device.stream():
            if self.spec.phase == "pp":
                rows = mx.array(spread(self.context, PROMPT_PARITY_ROWS))
                prompt = lambda: self.model(self.prompt, 0, self.cache, rows=rows)  # noqa: E731
                if self.compiled:
                    prompt = mx.compile(prompt, inputs=self.state(), outputs=self.state())
                return {"prompt logits": self.to_numpy(prompt()[0])}
            forced = []
            for i in range(self.size.parity_tokens):
                forced.append(self.decode_at(self.forced[:, i : i + 1], self.context + i))
                mx.eval(forced[-1], self.state())
            self.round_start()
            tokens, logits = [self.first_token], [self.prompt_logits]
            for _ in range(self.size.parity_tokens):
                tokens.append(self.generate_token())
                logits.append(self.logits)
                mx.eval(tokens[-1], logits[-1], self.state())
            self.round_start()
            generated = np.asarray(mx.concatenate(tokens, axis=1)).flatten().astype(np.int64)
            return {
                "teacher-forced logits": self.to_numpy(mx.concatenate(forced, axis=1)[0]),
                GENERATED_LOGITS: self.to_numpy(mx.concatenate(logits, axis=1)[0]),
                GENERATED_TOKENS: generated,
            }

    # Figures: the PyTorch workload's ------------------------------------------------------------

    @property
    def items_per_step(self) -> int:
        return tokens_per_step(self.spec.phase, self.context)

    def flops_per_step(self) -> int:
        return step_flops(self.size, self.spec.phase, self.context)

    def bytes_per_step(self) -> int | None:
        itemsize = self.dtype.size
        weight_bytes = self.weight_bytes(itemsize)
        return step_bytes(self.size, self.spec.phase, self.context, itemsize, 1, weight_bytes)

    def shapes(self) -> dict[str, Any]:
        return case_shapes(self.size, self.spec.phase, self.context)

    def output_dtype(self) -> Any:
        """The weights' dtype, which the logits have (no autocast)."""
        return self.model.dtype

    # Memory ---------------------------------------------------------------------------------

    def check_memory(self) -> None:
        """Raise MemoryError before drawing a model that cannot fit (the runner skips the case
        with the reason): against what the MLX device has (the host's available memory on
        the CPU, the GPU's free memory on CUDA, Metal's recommended working set), as the
        PyTorch workload checks."""
        available = self.device.memory_available_bytes()
        check_fits(self.spec, self.size, self.capacity, available, self.spec.device == "cpu")


class MlxQuantizedReference(MlxLanguageModel):
    """Parity's reference for MLX's quantized weights: the same weights as fp32 matrices
    (``mx.dequantize``), multiplied as plain matrices, on the spec's device and dtype (MLX's
    CPU in fp32: the reference spec)."""

    dequantize = True


class MlxDeviceDecode:
    """tg's compile mode in MLX: the next token and its position as arrays (``state``),
    advanced by each call of ``advance`` through ``mx.compile`` (the cache and the state its
    inputs and outputs); as ``llm_compiled.DeviceDecode`` for PyTorch."""

    def __init__(self, model: MlxDecoderLM, cache: MlxKVCache, token: Any, position: int) -> None:
        self.model, self.cache, self.mx = model, cache, model.mx
        self.state = {"token": token, "position": self.mx.array(position)}
        arrays = [*cache.arrays(), self.state]
        self.step = self.mx.compile(self.advance, inputs=arrays, outputs=arrays)

    @property
    def token(self) -> Any:
        return self.state["token"]

    def advance(self) -> Any:
        """One token at the array position: its logits; the argmax becomes the token and the
        position moves on by one."""
        d = self.state
        logits = self.model.decode(d["token"], d["position"], self.cache)
        d["token"] = self.mx.argmax(logits, axis=-1)
        d["position"] = d["position"] + 1
        return logits

    def set(self, token: Any, position: int) -> None:
        self.state.update(token=token, position=self.mx.array(position))

    def __call__(self) -> Any:
        return self.step()
