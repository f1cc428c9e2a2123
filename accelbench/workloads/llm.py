"""Language-model inference: prompt processing (pp) and text generation (tg), as llama-bench.

A decoder-only Transformer of the Llama shape (``llm_model``) with random weights from
the fixed seed, at batch 1, in the run's dtype (weights stored in it, as inference engines
do: no autocast, so a bf16 token reads bf16 weights). Each variant ``ctx-L=<n>`` is one
prompt length.

- ``pp``: one step is one forward pass over the n-token prompt from position 0, filling
  the KV cache and computing the next-token logits of its last position. Throughput is
  prompt tokens/s, llama-bench's ``pp<n>``.
- ``tg``: the prompt is processed once, untimed, when the case is built. One step is one
  generated token: the previous token goes in at the next position, the cache is read up to
  it and written at it, and the argmax of the logits is the next token (greedy; the token
  stays on the device, so nothing waits for the host). A timed round generates exactly
  ``generate`` tokens (``tg128``) and starts with ``round_start``, which puts the position
  back after the prompt: every round decodes the same positions, on every device.
  llama-bench's ``tg128`` with ``-d <n>`` (a context of depth n) is the same measurement.

Modes: ``eager``; ``compile`` (``accelbench.workloads.llm_compiled``): ``torch.compile`` of
the step, tg's decode with its token and position on the device so that one compiled graph
serves every position (on CUDA ``max-autotune``, replayed as a CUDA graph per token); and on
CUDA ``graph`` (``accelbench.backends.torch.cuda_graph``): the step's eager kernels captured
once as a CUDA graph and replayed, as llama.cpp decodes on CUDA. A graph fixes its
positions, so in graph mode one tg step is a whole round of ``generate`` tokens (one
replay; every round decodes the same positions anyway), and its items, FLOPs and bytes are
the round's.

Decode reads every weight once per token, so it is bound by memory bandwidth: tg gives
``bytes_per_step`` (weights + cache), which over the median is GB/s, to set against the
copy ceiling. pp is bound by FLOPs (``flops_per_step``).

Quantized weights (``ctx-w4-L=512``, ``ctx-w8-L=512``; ``llm_weights``, ``llm_quant``): the
matmul weights stored packed and multiplied by torch's weight-only kernels, where this
device and dtype have them (else the case skips with the reason at plan time); their bytes
per token are the packed weights with their scales. Parity, on every device the CPU
included, is against the same quantized weights given back as fp32 matrices on the CPU
(``QuantizedReference``), within the dtype's usual tolerance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import psutil
import torch

from accelbench.backends.torch import weight_only
from accelbench.backends.torch.cuda_graph import CapturedCall, is_capture_failure
from accelbench.backends.torch.dtypes import dtype_name, torch_dtype
from accelbench.backends.torch.workload import TorchWorkload, inductor_unavailable_reason
from accelbench.core.ceilings import BYTES_PER_ELEMENT, COPY, MATMUL
from accelbench.core.compiled import Compilable
from accelbench.core.parity import GENERATED_LOGITS, GENERATED_TOKENS
from accelbench.core.spec import (
    COMPILE,
    EAGER,
    GRAPH,
    LLM_PHASES,
    CaseSpec,
    length_variant,
    parse_length_variant,
)
from accelbench.core.workload import SEED, FixedRounds, Workload
from accelbench.workloads.llm_compiled import (
    CompileSettings,
    DeviceDecode,
    compilations,
    compile_counters,
    compile_settings,
)
from accelbench.workloads.llm_model import (
    KVCache,
    LlmSize,
    build,
    decode_bytes,
    forward_flops,
    kv_bytes_per_position,
    parameter_count,
)
from accelbench.workloads.llm_quant import build_quantized
from accelbench.workloads.llm_weights import (
    TORCH_FORMATS,
    WEIGHTS,
    WeightFormat,
    quantized_weight_bytes,
    unquantized_bytes_per_token,
    weights_name,
    weights_of,
)

GIB = 2**30
CONTEXT = "ctx"  # the variant's name part: ctx-L=512
PROMPT_PARITY_ROWS = 8  # prompt positions whose logits pp's parity compares


def host_memory_available_bytes() -> int:
    return int(psutil.virtual_memory().available)


def device_memory_free_bytes(device: torch.device) -> int | None:
    """Free memory of an accelerator, where torch can say; None where it cannot."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.mem_get_info(device)[0])
        if device.type == "mps":
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
    except Exception:  # no such query on this build: the allocator will raise instead
        return None
    return None


def memory_needed_bytes(size: LlmSize, context: int, capacity: int, itemsize: int) -> int:
    """About the most device memory a case holds: weights, cache, one prompt's activations
    (with the attention scores of a backend without a fused kernel) and a few logits rows."""
    weights = parameter_count(size) * itemsize
    cache = kv_bytes_per_position(size, itemsize) * capacity
    width = 4 * size.d_model + 2 * (size.heads + 2 * size.kv_heads) * size.head_dim
    activations = context * (width + 4 * size.ffn) * itemsize
    scores = size.heads * context * context * 4
    logits = (2 * size.parity_tokens + PROMPT_PARITY_ROWS + 1) * size.vocab * 4
    return weights + cache + activations + scores + logits


class GreedyDecode(FixedRounds):
    """The decode state of a language model, whatever its framework: the next position and
    the token that goes in there. A subclass has ``model``, ``cache``, ``spec``, ``context``,
    ``capacity`` and ``first_token``, and says how to take the ``argmax`` of logits.

    In compile mode a subclass sets ``decoder``: its compiled decode, which keeps the next
    token (``decoder.token``) and its position on the device, is put at a position with
    ``decoder.set(token, position)`` and decodes one token per call, returning its logits.
    """

    decoder: Any = None
    weight_formats: ClassVar[dict[str, WeightFormat]] = {}  # quantized weights, by name

    def weight_bytes(self, itemsize: int) -> int | None:
        """What a token reads of quantized weights (``self.weights``): packed, with their
        scales in the run's dtype; None for unquantized ones, whose count is their dtype's."""
        if not self.weights:
            return None
        return packed_bytes_per_token(self.size, self.weight_formats[self.weights], itemsize)

    def generate_token(self) -> Any:
        """tg: one token at the next position, from the cache; greedy, on the device."""
        if self.position == self.capacity:  # steps beyond a round (warm-up): start over
            self.round_start()
        self.logits, self.token = self.next_token()
        self.position += 1
        return self.token

    def next_token(self) -> tuple[Any, Any]:
        """The logits at the next position and the token they choose: one call of the
        compiled decode in compile mode."""
        if self.decoder is not None:
            return self.decoder(), self.decoder.token
        logits = self.model(self.token, self.position, self.cache)
        return logits, self.argmax(logits)

    def round_start(self) -> None:
        """tg: back to the first position after the prompt and the prompt's next token.
        Assignments (and in compile mode two small device writes): cheap enough to sit
        inside a timed round."""
        if self.spec.phase == "tg":
            self.position = self.context
            self.token = self.first_token
            if self.decoder is not None:
                self.decoder.set(self.first_token, self.context)

    def decode_at(self, token: Any, position: int) -> Any:
        """The logits of ``token`` at ``position``, as the timed steps compute them."""
        if self.decoder is None:
            return self.model(token, position, self.cache)
        self.decoder.set(token, position)
        return self.decoder()

    def argmax(self, logits: Any) -> Any:
        raise NotImplementedError


class LanguageModel(GreedyDecode, Compilable, Workload):
    """One prompt length of a decoder-only Transformer, in phase pp or tg, at batch 1."""

    name = "llm"
    framework = "torch"
    item_unit = "tokens"
    phases = LLM_PHASES
    modes = (EAGER, COMPILE, GRAPH)
    # The ceiling each phase is read against (a share of it), which runs with it by default
    # (accelbench.plugin.with_yardsticks): decode is bound by reading the weights, a prompt's
    # pass by its matmuls.
    yardsticks: ClassVar[dict[str, str]] = {"tg": COPY, "pp": MATMUL}
    # torch.compile's backend; the suite's own tests use "eager" (dynamo without inductor).
    compile_backend: ClassVar[str] = "inductor"
    SIZES = {
        # Milliseconds per step on a laptop CPU.
        "smoke": LlmSize(
            d_model=64,
            layers=2,
            heads=4,
            kv_heads=2,
            ffn=192,
            vocab=512,
            tied=False,
            contexts=(16, 32),
            generate=8,
            parity_tokens=8,
            weights=WEIGHTS,
        ),
        # The shape of SmolLM2-135M (134.5M parameters, tied head).
        "standard": LlmSize(
            d_model=576,
            layers=30,
            heads=9,
            kv_heads=3,
            ffn=1536,
            vocab=49152,
            tied=True,
            contexts=(128, 512, 2048),
            generate=128,
            parity_tokens=32,
            rope_theta=100000.0,
            shape_of="SmolLM2-135M",
            weights=WEIGHTS,
        ),
        # The shape of Llama-3.2-1B (1.24B parameters, tied head); plain rotary positions.
        "full": LlmSize(
            d_model=2048,
            layers=16,
            heads=32,
            kv_heads=8,
            ffn=8192,
            vocab=128256,
            tied=True,
            contexts=(512,),
            generate=128,
            parity_tokens=16,
            rope_theta=500000.0,
            shape_of="Llama-3.2-1B",
            weights=WEIGHTS,
        ),
    }

    # SmolLM2-135M's shape, one short prompt and a short generation; unquantized only.
    SIZES["quick"] = dataclasses.replace(
        SIZES["standard"], contexts=(128,), generate=32, parity_tokens=8, weights=()
    )
    weight_formats = TORCH_FORMATS

    @classmethod
    def variants(cls, size: str) -> list[str]:
        """The unquantized model at every context, then each quantized weights' case at the
        longest (the Llama shape's 512, llama-bench's usual depth)."""
        shape = cls.SIZES[size]
        unquantized = [length_variant(CONTEXT, n) for n in shape.contexts]
        longest = max(shape.contexts)
        return unquantized + [
            length_variant(weights_name(CONTEXT, weights), longest) for weights in shape.weights
        ]

    def __init__(self, spec: CaseSpec, device: Any) -> None:
        self.context = context_length(spec)
        super().__init__(spec, device)
        self.dtype = torch_dtype(spec.dtype)
        self.torch_device = device.torch_device()
        self.capacity = cache_capacity(self.size, spec.phase, self.context)
        self.weights = weights_of(spec.variant)
        self.check_memory()

        self.model = self.build_model()
        self.model.set_positions(self.capacity)
        self.cache = KVCache.empty(self.size, 1, self.capacity, self.dtype, self.torch_device)
        prompt, forced = seeded_tokens(self.size, self.context)
        self.prompt = prompt.to(self.torch_device)
        self.forced = forced.to(self.torch_device)

        self.position = self.context
        self.token: torch.Tensor | None = None
        self.logits: torch.Tensor | None = None
        self.captured: CapturedCall | None = None  # graph mode, from compile_step
        self.compiled: CompileSettings | None = None  # compile mode, from compile_step
        self.compiled_prompt: Callable[[], Any] | None = None  # compile mode's pp step
        self.decoder: DeviceDecode | None = None  # compile mode's tg state
        if spec.phase == "tg":  # the prompt, processed once, untimed
            with torch.inference_mode():
                self.prompt_logits = self.model(self.prompt, 0, self.cache)
                self.first_token = self.prompt_logits.argmax(-1)
            self.round_start()

    def build_model(self) -> Any:
        if self.weights:
            return build_quantized(self.size, self.dtype, self.torch_device, SEED, self.weights)
        return build(self.size, self.dtype, self.torch_device, SEED)

    # The steps ----------------------------------------------------------------------------

    def step(self) -> Any:
        if self.captured is not None:
            return self.captured()
        with torch.inference_mode():
            if self.compiled_prompt is not None:
                return self.compiled_prompt()
            return self.process_prompt() if self.spec.phase == "pp" else self.generate_token()

    def process_prompt(self) -> torch.Tensor:
        """pp: the whole prompt in one forward pass; the last position's logits."""
        self.logits = self.model(self.prompt, 0, self.cache)
        return self.logits

    def argmax(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(-1)

    def generate_round(self) -> torch.Tensor:
        """tg in graph mode: a whole round, ``generate`` tokens from the first position after
        the prompt; the last token."""
        self.round_start()
        for _ in range(self.size.generate):
            token = self.generate_token()
        return token

    def steps_per_round(self) -> int | None:
        return None if self.spec.phase == "pp" or self.round_is_step else self.size.generate

    @property
    def round_is_step(self) -> bool:
        """graph mode's tg: one step is one replay of a whole round."""
        return self.spec.mode == GRAPH and self.spec.phase == "tg"

    @property
    def generated_per_step(self) -> int:
        """tg: tokens a step generates (one, or a round in graph mode)."""
        return self.size.generate if self.round_is_step else 1

    # graph mode -----------------------------------------------------------------------------

    @classmethod
    def mode_unsupported_reason(cls, spec: CaseSpec, device: Any) -> str | None:
        """Also the plan-time check of quantized weights: a device or dtype without their
        kernel skips with the reason before anything is built."""
        reason = super().mode_unsupported_reason(spec, device)
        if reason is None and spec.mode == GRAPH and spec.device != "cuda":
            return (
                f"graph mode replays CUDA graphs, which PyTorch captures on CUDA only "
                f"(not on {spec.device})"
            )
        if reason is None and spec.mode == COMPILE and cls.compile_backend == "inductor":
            return inductor_unavailable_reason(spec.device)
        weights = weights_of(spec.variant)
        if reason is None and weights:
            return weight_only.unsupported_reason(weights, spec.device, spec.dtype)
        return reason

    def compile_step(self) -> None:
        """graph mode: the step (pp: the prompt's forward pass; tg: a whole round) captured
        as a CUDA graph at its first call, then replayed. compile mode: pp's forward pass
        through ``torch.compile``; tg's decode as a ``DeviceDecode`` (llm_compiled)."""
        if self.spec.mode == GRAPH:
            step = self.process_prompt if self.spec.phase == "pp" else self.generate_round
            self.captured = CapturedCall(step)
            return
        import torch._dynamo

        # Past dynamo's recompile limit a frame silently runs eagerly: inside a compiled
        # figure that must be an error, not a fallback.
        torch._dynamo.config.fail_on_recompile_limit_hit = True
        self._counters_at_compile = compile_counters()
        self.compiled = compile_settings(self.torch_device.type, self.compile_backend)
        if self.spec.phase == "pp":
            self.compiled_prompt = self.compiled.compile(self.process_prompt)
            return
        self.decoder = DeviceDecode(
            self.model, self.cache, self.first_token, self.context, self.compiled
        )

    def compilations(self) -> int | None:
        if self.compiled is not None:
            return compilations()
        return None if self.captured is None else self.captured.captures

    def compile_facts(self) -> dict[str, Any]:
        if self.compiled is None:
            return {"compile_backend": "cuda_graph"}
        start, now = self._counters_at_compile, compile_counters()
        return self.compiled.facts() | {k: now[k] - start[k] for k in now}

    @classmethod
    def is_compile_failure(cls, exc: BaseException) -> bool:
        return is_capture_failure(exc) or TorchWorkload.is_compile_failure(exc)

    @classmethod
    def clear_compiled(cls) -> None:
        TorchWorkload.clear_compiled()

    def run(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` as the timed step runs: eagerly; in graph mode captured and replayed; in
        compile mode compiled where it is a prompt's pass (tg's parity decodes call the
        compiled decode step by step)."""
        if self.captured is not None:
            return CapturedCall(fn)()
        if self.compiled is not None and self.spec.phase == "pp":
            return self.compiled.compile(fn)()
        return fn()

    # Parity ---------------------------------------------------------------------------------

    @classmethod
    def parity_reference(cls, spec: CaseSpec) -> tuple[type[Workload], CaseSpec] | None:
        """Quantized weights, on every device the CPU included: the same weights given back
        as fp32 matrices, on the CPU in fp32 (``QuantizedReference``)."""
        if weights_of(spec.variant):
            return QuantizedReference, spec.reference()
        return super().parity_reference(spec)

    def parity_outputs(self) -> dict[str, np.ndarray]:
        """pp: the logits at ``PROMPT_PARITY_ROWS`` prompt positions (the last included).

        tg: greedy generation through ``step`` itself, ``parity_tokens`` steps: the tokens
        (the prompt's next token first) and the logits each came from, compared as tokens by
        ``accelbench.core.parity``; and the logits of decoding a fixed, seeded token sequence
        (teacher forcing), compared at every step whatever the argmax, so the cached decode
        is checked even after greedy decoding on two devices parts at a near tie.
        """
        with torch.inference_mode():
            if self.spec.phase == "pp":
                rows = spread(self.context, PROMPT_PARITY_ROWS)
                index = torch.tensor(rows, device=self.torch_device)
                logits = self.run(lambda: self.model(self.prompt, 0, self.cache, rows=index))
                return {"prompt logits": _rows(logits)}
            forced = self.run(self.decode_forced)
            tokens, logits = self.run(self.decode_greedy)
            self.round_start()
        return {
            "teacher-forced logits": _rows(forced),
            GENERATED_LOGITS: _rows(logits),
            GENERATED_TOKENS: tokens.flatten().cpu().numpy(),
        }

    def decode_forced(self) -> torch.Tensor:
        """The logits of decoding the seeded tokens after the prompt, (1, parity_tokens, vocab)."""
        logits = [
            self.decode_at(self.forced[:, i : i + 1], self.context + i).clone()  # compile mode:
            for i in range(self.size.parity_tokens)  # the next call may reuse its output
        ]
        return torch.cat(logits, 1)

    def decode_greedy(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``parity_tokens`` greedy steps through ``generate_token`` from the round's start:
        the tokens, the prompt's next one first, and the logits each came from."""
        self.round_start()
        tokens, logits = [self.first_token], [self.prompt_logits]
        for _ in range(self.size.parity_tokens):
            tokens.append(self.generate_token().clone())  # compile mode: one token tensor
            logits.append(self.logits.clone())
        return torch.cat(tokens, dim=1), torch.cat(logits, dim=1)

    # Figures ------------------------------------------------------------------------------

    @property
    def items_per_step(self) -> int:
        if self.round_is_step:
            return self.generated_per_step
        return tokens_per_step(self.spec.phase, self.context)

    def flops_per_step(self) -> int:
        return step_flops(self.size, self.spec.phase, self.context, self.generated_per_step)

    def bytes_per_step(self) -> int | None:
        itemsize = self.cache.itemsize
        return step_bytes(
            self.size,
            self.spec.phase,
            self.context,
            itemsize,
            self.generated_per_step,
            self.weight_bytes(itemsize),
        )

    def shapes(self) -> dict[str, Any]:
        return case_shapes(self.size, self.spec.phase, self.context)

    def dtype_ran(self) -> str:
        return dtype_name(self.model.embed.weight.dtype, self.device.float32_mode())

    def threads(self) -> int | None:
        return torch.get_num_threads()

    # Memory ---------------------------------------------------------------------------------

    def check_memory(self) -> None:
        """Raise MemoryError before building a model that cannot fit (the runner skips the
        case with the reason): on the CPU against available host memory, where Linux's
        overcommit would otherwise let the kernel kill the session; on an accelerator
        against the free memory torch reports, where it reports it."""
        if self.torch_device.type == "cpu":
            check_fits(self.spec, self.size, self.capacity, host_memory_available_bytes())
        else:
            available = device_memory_free_bytes(self.torch_device)
            check_fits(self.spec, self.size, self.capacity, available, on_host=False)


class QuantizedReference(LanguageModel):
    """Parity's reference for quantized weights: the same quantized weights as fp32 matrices
    (``llm_quant.build_quantized(dequantize=True)``), computed in the spec's dtype (fp32 on
    the CPU: the reference spec)."""

    def build_model(self) -> Any:
        return build_quantized(
            self.size, self.dtype, self.torch_device, SEED, self.weights, dequantize=True
        )


# What a case is, whatever the framework (the MLX twin, llm_mlx, shares these) ------------------


def context_length(spec: CaseSpec) -> int:
    """The prompt length of ``spec``'s variant (``ctx-L=512``); ValueError for a variant or
    phase the language model does not have."""
    point = parse_length_variant(spec.variant)
    curves = [weights_name(CONTEXT, weights) for weights in ("", *WEIGHTS)]
    if point is None or point[0] not in curves:
        raise ValueError(
            f"llm variant {spec.variant!r}: expected '{CONTEXT}-L=<length>' or, quantized, "
            f"'{CONTEXT}-w4-L=<length>' ({', '.join(WEIGHTS)})"
        )
    if spec.phase not in LLM_PHASES:
        raise ValueError(f"llm phase {spec.phase!r}: expected one of {LLM_PHASES}")
    return point[1]


def cache_capacity(size: LlmSize, phase: str, context: int) -> int:
    """Positions the KV cache holds: the prompt, and in tg a round's generated tokens."""
    return context + (size.generate if phase == "tg" else 0)


def seeded_tokens(size: LlmSize, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The prompt (1, context) and the teacher-forced tokens (1, parity_tokens) of a case,
    int64 on the CPU, from the fixed seed (one past the weights')."""
    generator = torch.Generator().manual_seed(SEED + 1)
    prompt = torch.randint(size.vocab, (1, context), generator=generator)
    forced = torch.randint(size.vocab, (1, size.parity_tokens), generator=generator)
    return prompt, forced


def tokens_per_step(phase: str, context: int) -> int:
    """pp: the prompt's tokens; tg: one generated token."""
    return context if phase == "pp" else 1


def step_flops(size: LlmSize, phase: str, context: int, tokens: int = 1) -> int:
    """pp: the prompt's forward pass. tg: ``tokens`` times the mean over a round's tokens,
    whose attention grows by one position per token (one forward over them, causal, has the
    same FLOPs)."""
    if phase == "pp":
        return forward_flops(size, 0, context)
    n = size.generate
    return round(forward_flops(size, context, n, logits_rows=n) * tokens / n)


def step_bytes(
    size: LlmSize,
    phase: str,
    context: int,
    itemsize: int,
    tokens: int = 1,
    weight_bytes: int | None = None,
) -> int | None:
    """tg: weights and cache moved per ``tokens`` generated tokens at a round's mean
    (``decode_bytes``; ``weight_bytes``: quantized weights' bytes per token); pp: None."""
    if phase == "pp":
        return None
    return round(decode_bytes(size, itemsize, context, size.generate, weight_bytes) * tokens)


def packed_bytes_per_token(size: LlmSize, fmt: WeightFormat, itemsize: int) -> int:
    """What quantized weights read per token: every matrix packed with its scales (in the
    run's dtype), the norms and the embedding row unquantized."""
    packed = quantized_weight_bytes(size, fmt, itemsize)
    return packed + unquantized_bytes_per_token(size, itemsize)


def case_shapes(size: LlmSize, phase: str, context: int) -> dict[str, Any]:
    return {
        "batch": 1,
        "context": context,
        "generate": size.generate if phase == "tg" else 0,
        "d_model": size.d_model,
        "layers": size.layers,
        "heads": size.heads,
        "kv_heads": size.kv_heads,
        "ffn": size.ffn,
        "vocab": size.vocab,
        "tied": size.tied,
        "parameters": parameter_count(size),
        "shape_of": size.shape_of,
    }


def check_fits(
    spec: CaseSpec, size: LlmSize, capacity: int, available: int | None, on_host: bool = True
) -> None:
    """Raise MemoryError when the case needs more than ``available`` bytes (None: unknown,
    not checked). On the host (``on_host``), the largest matrix drawn in fp32 and its cast
    count too."""
    itemsize = BYTES_PER_ELEMENT.get(spec.dtype, 4)
    context = context_length(spec)
    needed = memory_needed_bytes(size, context, capacity, itemsize)
    if on_host:
        needed += size.vocab * size.d_model * 4 * 2  # a matrix drawn in fp32, cast
    where = "host memory" if on_host else "free device memory"
    if available is not None and needed > available:
        raise MemoryError(
            f"llm {spec.variant} ({parameter_count(size) / 1e6:.3g}M parameters, "
            f"{spec.dtype}) needs about {needed / GIB:.1f} GiB; "
            f"{available / GIB:.1f} GiB of {where}"
        )


def spread(length: int, count: int) -> list[int]:
    """About ``count`` positions spread evenly over ``range(length)``, first and last included."""
    last = length - 1
    return sorted({round(i * last / max(count - 1, 1)) for i in range(count)})


def _rows(logits: torch.Tensor) -> np.ndarray:
    """(1, rows, vocab) logits -> (rows, vocab) fp32 on the host."""
    return logits[0].float().cpu().numpy()
