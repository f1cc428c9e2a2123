"""A decoder-only Transformer of the Llama shape, with a KV cache, and what it costs.

RMSNorm before attention and before the MLP, rotary positions (rotate-half), grouped-query
attention (``kv_heads`` key/value heads shared by ``heads // kv_heads`` query heads each),
a SwiGLU MLP, a final RMSNorm and a head over the vocabulary, tied to the embedding or
not. No biases. q, k and v are one fused matmul, and so are the MLP's gate and up
projections: the same function as separate ones (a concatenation of their weights), with
fewer kernel launches per token, as inference engines do.

The formulas here (parameters, FLOPs, bytes per generated token) are what the workload
reports; tests check them against the built module and torch's FLOP counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

INIT_STD = 0.02  # every matrix ~ N(0, 0.02^2), Llama's and GPT-2's initializer_range
NORM_EPS = 1e-5


@dataclass(frozen=True)
class LlmSize:
    """A model shape, and the prompt lengths and generated tokens of its cases.

    ``contexts``: prompt lengths, one case each (``ctx-L=512``). ``generate``: tokens per
    timed tg round (llama-bench's ``tg128``). ``parity_tokens``: greedy steps compared with
    the CPU before timing. ``weights``: quantized weights (``llm_weights``) run beside the
    unquantized model, each at the longest context (``ctx-w4-L=512``).
    """

    d_model: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    tied: bool
    contexts: tuple[int, ...]
    generate: int
    parity_tokens: int
    rope_theta: float = 10000.0
    shape_of: str = ""
    weights: tuple[str, ...] = ()

    @property
    def head_dim(self) -> int:
        return self.d_model // self.heads

    @property
    def group(self) -> int:
        """Query heads per key/value head."""
        return self.heads // self.kv_heads

    def __post_init__(self) -> None:
        if self.d_model % self.heads or self.heads % self.kv_heads or self.head_dim % 2:
            raise ValueError(f"inconsistent attention shape: {self}")
        if self.parity_tokens > self.generate:
            raise ValueError("parity decodes within a round's positions: parity_tokens > generate")


# Formulas ---------------------------------------------------------------------------------


def layer_matrix_parameters(size: LlmSize) -> int:
    """Weights of the matmuls in one layer: q, k, v, o and the three MLP projections."""
    d, hd = size.d_model, size.head_dim
    attention = d * (size.heads + 2 * size.kv_heads) * hd + size.heads * hd * d
    return attention + 3 * d * size.ffn


def parameter_count(size: LlmSize) -> int:
    """All parameters: embedding, layers (with their two norms), final norm, head if untied."""
    embedding = size.vocab * size.d_model
    layers = size.layers * (layer_matrix_parameters(size) + 2 * size.d_model)
    head = 0 if size.tied else size.vocab * size.d_model
    return embedding + layers + size.d_model + head


def attended_positions(start: int, tokens: int) -> int:
    """Keys each query attends to, summed over ``tokens`` queries at ``start, start+1, ...``
    (causal: the query at position t sees t + 1 positions)."""
    return tokens * start + tokens * (tokens + 1) // 2


def forward_flops(size: LlmSize, start: int, tokens: int, logits_rows: int = 1) -> int:
    """Matmul FLOPs of one forward pass over ``tokens`` new tokens at positions from ``start``.

    2 per weight per token in the layers' matmuls; q k^T and p v at 2 * head_dim per
    (query head, attended key) each, counting only the positions causal attention uses;
    the head (2 * d * vocab) on ``logits_rows`` rows only (a prompt needs the next-token
    logits of its last position, as llama.cpp computes). Norms, rotary positions and the
    MLP's gating are elementwise and left out.
    """
    linear = 2 * tokens * size.layers * layer_matrix_parameters(size)
    attention = 4 * size.layers * size.heads * size.head_dim * attended_positions(start, tokens)
    head = 2 * logits_rows * size.d_model * size.vocab
    return linear + attention + head


def kv_bytes_per_position(size: LlmSize, itemsize: int) -> int:
    """Cache bytes of one position: a key and a value vector per layer and kv head."""
    return 2 * size.layers * size.kv_heads * size.head_dim * itemsize


def decode_bytes(
    size: LlmSize, itemsize: int, start: int, tokens: int, weight_bytes: int | None = None
) -> float:
    """Mean bytes moved per generated token over ``tokens`` steps at ``start, start+1, ...``.

    Every weight is read once per token (an embedding table only as the head, plus the one
    row the embedding looks up), the cache is read at every attended position and written
    at the new one. Activations at batch 1 (a few vectors of d_model) are left out.
    ``weight_bytes``: what the weights read per token where they are not the parameters in
    the run's dtype (quantized: ``llm_weights``).
    """
    if weight_bytes is None:
        weight_bytes = (parameter_count(size) - size.vocab * size.d_model) * itemsize
        weight_bytes += size.d_model * itemsize  # the row the embedding looks up
        if size.tied:  # the table is read whole by the head
            weight_bytes += size.vocab * size.d_model * itemsize
    kv = kv_bytes_per_position(size, itemsize)
    cache = kv * (attended_positions(start, tokens) + tokens)  # reads, and one write each
    return weight_bytes + cache / tokens


# The model --------------------------------------------------------------------------------


@dataclass
class KVCache:
    """Keys and values, a (batch, kv_heads, capacity, head_dim) tensor per layer each.

    One tensor per layer, not one for all layers: a compiled decode writes a layer's cache in
    place only where that cache is a graph input of its own (a write into a view of one
    shared tensor made inductor copy the whole tensor at every layer's write).
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]

    @classmethod
    def empty(
        cls, size: LlmSize, batch: int, capacity: int, dtype: torch.dtype, device: Any
    ) -> KVCache:
        shape = (batch, size.kv_heads, capacity, size.head_dim)
        layers = range(size.layers)
        return cls(
            [torch.zeros(shape, dtype=dtype, device=device) for _ in layers],
            [torch.zeros(shape, dtype=dtype, device=device) for _ in layers],
        )

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    @property
    def itemsize(self) -> int:
        return self.keys[0].element_size()

    def tensors(self) -> list[torch.Tensor]:
        """Every layer's keys, then every layer's values."""
        return [*self.keys, *self.values]


def rotary_tables(size: LlmSize, positions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of every position's angles, (positions, head_dim), in fp32 on the CPU."""
    half = size.head_dim // 2
    inverse_frequency = size.rope_theta ** (-torch.arange(half, dtype=torch.float64) / half)
    angles = torch.outer(torch.arange(positions, dtype=torch.float64), inverse_frequency)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos().float(), angles.sin().float()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary positions, rotate-half form: x (batch, tokens, heads, head_dim), cos/sin
    (tokens, head_dim)."""
    half = x.shape[-1] // 2
    rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos[:, None] + rotated * sin[:, None]


class Block(nn.Module):
    def __init__(self, size: LlmSize) -> None:
        super().__init__()
        self.size = size
        d, hd = size.d_model, size.head_dim
        self.attention_norm = nn.RMSNorm(d, eps=NORM_EPS)
        self.qkv = nn.Linear(d, (size.heads + 2 * size.kv_heads) * hd, bias=False)
        self.out = nn.Linear(size.heads * hd, d, bias=False)
        self.mlp_norm = nn.RMSNorm(d, eps=NORM_EPS)
        self.gate_up = nn.Linear(d, 2 * size.ffn, bias=False)
        self.down = nn.Linear(size.ffn, d, bias=False)

    def attention_inputs(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q (batch, tokens, heads, head_dim), k and v (batch, kv_heads, tokens, head_dim) of
        x, q and k rotated to their positions."""
        s = self.size
        qkv = self.qkv(self.attention_norm(x))
        qk = rotate(
            qkv[..., : (s.heads + s.kv_heads) * s.head_dim].unflatten(-1, (-1, s.head_dim)),
            cos,
            sin,
        )
        v = qkv[..., (s.heads + s.kv_heads) * s.head_dim :].unflatten(-1, (s.kv_heads, s.head_dim))
        return qk[:, :, : s.heads], qk[:, :, s.heads :].transpose(1, 2), v.transpose(1, 2)

    def attend_one(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """One query per head against cached keys and values: the query heads of each kv head
        become that head's queries (head h uses kv head h // group), so no key is repeated;
        (batch, 1, heads * head_dim)."""
        s = self.size
        batch = q.shape[0]
        grouped = q.reshape(batch, s.kv_heads, s.group, s.head_dim)
        attended = F.scaled_dot_product_attention(grouped, keys, values)
        return attended.reshape(batch, 1, s.heads * s.head_dim)

    def attend_cache(
        self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """``attend_one`` over the whole cache, ``mask`` (1, capacity) hiding the positions
        after the token's: the same function, written as products and sums (in fp32, as
        sdpa's kernels accumulate). A compiler fuses them into reductions, leaving no batched
        matmul for ``max-autotune`` to benchmark; as matmuls, the compile took minutes and
        decoded no faster (docs/modes-and-sweeps.md)."""
        s = self.size
        batch = q.shape[0]
        grouped = q.reshape(batch, s.kv_heads, s.group, 1, s.head_dim).float()
        scores = (grouped * keys[:, :, None].float()).sum(-1) * s.head_dim**-0.5
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        attended = (weights[..., None] * values[:, :, None].float()).sum(-2)
        return attended.to(values.dtype).reshape(batch, 1, s.heads * s.head_dim)

    def rest(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """The output projection, the residual, and the MLP with its residual."""
        x = x + self.out(attended)
        gate, up = self.gate_up(self.mlp_norm(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        start: int,
    ) -> torch.Tensor:
        """x (batch, tokens, d) at positions ``start...``; keys/values: this layer's cache."""
        s = self.size
        batch, tokens, _ = x.shape
        q, k, v = self.attention_inputs(x, cos, sin)
        end = start + tokens
        keys[:, :, start:end] = k
        values[:, :, start:end] = v
        if tokens == 1:  # every cached position is in the past: no mask
            return self.rest(x, self.attend_one(q, keys[:, :, :end], values[:, :, :end]))
        if start != 0:
            raise ValueError("a multi-token forward starts at position 0 (a whole prompt)")
        # Each kv head repeated for its query heads (head h uses kv head h // group), as
        # Llama's reference code does: sdpa's enable_gqa is not on every backend, and
        # the copies are small next to a prompt's matmuls.
        attended = F.scaled_dot_product_attention(
            q.transpose(1, 2),
            keys[:, :, :end].repeat_interleave(s.group, dim=1),
            values[:, :, :end].repeat_interleave(s.group, dim=1),
            is_causal=True,
        ).transpose(1, 2)
        return self.rest(x, attended.reshape(batch, tokens, s.heads * s.head_dim))

    def decode(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        position: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """One token x (batch, 1, d) at ``position``, a (1,) tensor: the cache written there
        (``index_copy_``) and read whole, ``mask`` hiding the positions after it. No shape
        and no Python value depends on the position."""
        q, k, v = self.attention_inputs(x, cos, sin)
        keys.index_copy_(2, position, k)
        values.index_copy_(2, position, v)
        return self.rest(x, self.attend_cache(q, keys, values, mask))


class DecoderLM(nn.Module):
    """tokens (batch, tokens) at positions ``start...`` -> next-token logits of chosen rows."""

    def __init__(self, size: LlmSize) -> None:
        super().__init__()
        self.size = size
        # _weight: no initialisation here (build draws every weight); on the meta device,
        # Embedding's own normal_ would import torch.distributed's tensor modules (seconds).
        self.embed = nn.Embedding(
            size.vocab, size.d_model, _weight=torch.empty(size.vocab, size.d_model)
        )
        self.blocks = nn.ModuleList(Block(size) for _ in range(size.layers))
        self.norm = nn.RMSNorm(size.d_model, eps=NORM_EPS)
        self.head = None if size.tied else nn.Linear(size.d_model, size.vocab, bias=False)
        self.cos: torch.Tensor | None = None
        self.sin: torch.Tensor | None = None

    def set_positions(self, positions: int) -> None:
        """Rotary tables for ``positions`` positions, in the weights' dtype and device."""
        weight = self.embed.weight
        cos, sin = rotary_tables(self.size, positions)
        self.cos = cos.to(weight.device, weight.dtype)
        self.sin = sin.to(weight.device, weight.dtype)

    def forward(
        self, tokens: torch.Tensor, start: int, cache: KVCache, rows: Any = None
    ) -> torch.Tensor:
        """Writes the cache at the new positions; logits (batch, rows, vocab) of ``rows``
        (an index or slice of the new tokens; None: the last one)."""
        tokens_in = tokens.shape[1]
        if self.cos is None or start + tokens_in > self.cos.shape[0]:
            raise ValueError(f"positions {start}..{start + tokens_in} exceed the rotary tables")
        cos, sin = self.cos[start : start + tokens_in], self.sin[start : start + tokens_in]
        x = self.embed(tokens)
        for layer, block in enumerate(self.blocks):
            x = block(x, cos, sin, cache.keys[layer], cache.values[layer], start)
        return self.logits(x[:, -1:] if rows is None else x[:, rows])

    def decode(self, token: torch.Tensor, position: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """One token (batch, 1) at ``position``, a (1,) int64 tensor on the model's device:
        the logits (batch, 1, vocab), the cache written at the position. The same function as
        ``forward(token, int(position), cache)``, with the position as data: every position
        runs the same kernels on the same shapes (attention over the whole cache, the
        positions after this one masked), so one compiled graph or captured replay serves
        every position. Used by the compile mode (``llm_compiled``)."""
        if self.cos is None or self.cos.shape[0] < cache.capacity:
            raise ValueError(f"the rotary tables do not cover the cache's {cache.capacity}")
        cos, sin = self.cos[position], self.sin[position]
        mask = (torch.arange(cache.capacity, device=position.device) <= position)[None]
        x = self.embed(token)
        for layer, block in enumerate(self.blocks):
            x = block.decode(x, cos, sin, cache.keys[layer], cache.values[layer], position, mask)
        return self.logits(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The final norm and the head (the embedding table where tied)."""
        x = self.norm(x)
        # A quantized model has a head of its own even when tied (llm_quant).
        return F.linear(x, self.embed.weight) if self.head is None else self.head(x)


def seeded_weights(size: LlmSize, seed: int) -> Iterator[tuple[str, torch.Tensor]]:
    """Every parameter of ``DecoderLM(size)``: its name and its value, fp32 on the CPU, one at
    a time, in registration order, from one generator seeded with ``seed``.

    Each matrix ~ N(0, INIT_STD^2); norm weights are ones. ``build`` and the MLX twin
    (``llm_model_mlx``) both draw their weights here, so every framework, device and dtype
    starts from the same numbers (up to the cast), and the host holds one matrix at a time.
    """
    with torch.device("meta"):
        model = DecoderLM(size)
    generator = torch.Generator().manual_seed(seed)
    for name, param in list(model.named_parameters()):
        owner = model.get_submodule(name.rpartition(".")[0])
        if isinstance(owner, nn.RMSNorm):
            value = torch.ones(param.shape)
        else:
            value = torch.randn(param.shape, generator=generator) * INIT_STD
        yield name, value
        del value


def build(size: LlmSize, dtype: torch.dtype, device: Any, seed: int) -> DecoderLM:
    """The model with seeded random weights (``seeded_weights``), in ``dtype`` on ``device``.

    Laid out on the meta device (no memory), then each parameter is cast and moved as it is
    drawn. (``Module.to_empty`` would do the layout step too, but its first call imports
    torch.distributed's tensor modules: seconds.)
    """
    with torch.device("meta"):
        model = DecoderLM(size)
    for name, value in seeded_weights(size, seed):
        owner_name, _, attribute = name.rpartition(".")
        owner = model.get_submodule(owner_name)
        weight = nn.Parameter(value.to(device=device, dtype=dtype), requires_grad=False)
        setattr(owner, attribute, weight)
        del value
    return model.eval()
