"""``llm_model.DecoderLM`` in MLX: the same function, on the same weights, with MLX's kernels.

Layer for layer as the PyTorch model: RMSNorm (``mx.fast.rms_norm``) before attention and
before the MLP; one fused q/k/v matmul; rotary positions in rotate-half form
(``mx.fast.rope`` with ``traditional=False``, base ``rope_theta``, positions from the
step's start); grouped-query attention (``mx.fast.scaled_dot_product_attention``, which
pairs query head h with kv head h // group as the PyTorch model does), causal over a
prompt; one fused gate/up matmul and SwiGLU; a final RMSNorm and the head (the embedding
table, where tied). No biases. What mlx-lm's Llama does; quantized weights
(``llm_quant_mlx``) multiply through ``mx.quantized_matmul`` as its ``QuantizedLinear`` does.

The weights are a dict under the PyTorch model's parameter names (``blocks.3.qkv.weight``),
each drawn by ``llm_model.seeded_weights`` (fp32, on the host, one at a time) and cast to the
run's dtype; they stay in it, as in the PyTorch workload: no autocast. The KV cache is one
array per layer for keys and one for values; a step writes its positions with slice
assignment, which MLX performs in place when nothing else holds the old array (the cache
keeps only the newest), as mlx-lm's cache does.

MLX is imported by the caller (``accelbench.backends.mlx.devices.modules``) and passed in, so
importing this module never imports MLX.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from accelbench.workloads.llm_model import NORM_EPS, LlmSize, seeded_weights


def mlx_weights(size: LlmSize, seed: int, dtype: Any, mx: Any) -> Iterator[tuple[str, Any]]:
    """``seeded_weights`` as MLX arrays in ``dtype``, each evaluated before the next is drawn:
    the host holds one fp32 matrix (and its cast) at a time."""
    for name, value in seeded_weights(size, seed):
        array = mx.array(value.numpy()).astype(dtype)
        del value
        mx.eval(array)
        yield name, array


@dataclass
class MlxKVCache:
    """Keys and values per layer: lists of (batch, kv_heads, capacity, head_dim) arrays."""

    keys: list[Any]
    values: list[Any]

    @classmethod
    def empty(cls, size: LlmSize, batch: int, capacity: int, dtype: Any, mx: Any) -> MlxKVCache:
        shape = (batch, size.kv_heads, capacity, size.head_dim)
        return cls(
            [mx.zeros(shape, dtype=dtype) for _ in range(size.layers)],
            [mx.zeros(shape, dtype=dtype) for _ in range(size.layers)],
        )

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2]

    def arrays(self) -> list[list[Any]]:
        """Every array of the cache, as ``mx.eval`` takes them."""
        return [self.keys, self.values]


class MlxDecoderLM:
    """tokens (batch, tokens) at positions ``start...`` -> next-token logits of chosen rows."""

    def __init__(self, size: LlmSize, weights: dict[str, Any], mx: Any) -> None:
        self.size = size
        self.weights = weights
        self.mx = mx
        self.scale = size.head_dim**-0.5

    @property
    def dtype(self) -> Any:
        return self.weights["embed.weight"].dtype

    def __call__(self, tokens: Any, start: int, cache: MlxKVCache, rows: Any = None) -> Any:
        """Writes the cache at the new positions; logits (batch, rows, vocab) of ``rows``
        (an index array or slice of the new tokens; None: the last one)."""
        w = self.weights
        end = start + tokens.shape[1]
        if end > cache.capacity:
            raise ValueError(f"positions {start}..{end} exceed the cache's {cache.capacity}")
        x = w["embed.weight"][tokens]
        for layer in range(self.size.layers):
            x = self.block(layer, x, start, cache)
        return self.logits(x[:, -1:] if rows is None else x[:, rows])

    def logits(self, x: Any) -> Any:
        """The final norm and the head (the embedding table where tied)."""
        w = self.weights
        x = self.mx.fast.rms_norm(x, w["norm.weight"], NORM_EPS)
        # A quantized model has a head of its own even when tied (llm_quant_mlx).
        return self.linear(x, w["head.weight"] if "head.weight" in w else w["embed.weight"])

    def linear(self, x: Any, weight: Any) -> Any:
        """``x @ weight.T``; a quantized weight multiplies through its own kernel."""
        return x @ weight.T if hasattr(weight, "T") else weight.matmul(x, self.mx)

    def decode(self, token: Any, position: Any, cache: MlxKVCache) -> Any:
        """One token (batch, 1) at ``position``, a scalar int32 array: its logits (batch, 1,
        vocab), the cache written there (``mx.slice_update``) and read whole with the later
        positions masked. The position is data, so ``mx.compile`` traces one graph for every
        position (a Python position would be a constant of the trace)."""
        mx, w = self.mx, self.weights
        mask = mx.arange(cache.capacity) <= position
        x = w["embed.weight"][token]
        for layer in range(self.size.layers):
            x = self.block(layer, x, position, cache, mask)
        return self.logits(x)

    def block(self, layer: int, x: Any, start: Any, cache: MlxKVCache, mask: Any = None) -> Any:
        """One layer, as ``llm_model.Block``; x (batch, tokens, d) at positions ``start...``.
        With ``mask`` (``decode``): one token at the array ``start``, over the whole cache."""
        mx, s = self.mx, self.size
        w = {
            name: self.weights[f"blocks.{layer}.{name}.weight"]
            for name in ("attention_norm", "qkv", "out", "mlp_norm", "gate_up", "down")
        }
        batch, tokens, _ = x.shape
        if mask is None and tokens > 1 and start != 0:
            raise ValueError("a multi-token forward starts at position 0 (a whole prompt)")
        qkv = self.linear(mx.fast.rms_norm(x, w["attention_norm"], NORM_EPS), w["qkv"])
        heads = qkv.reshape(batch, tokens, s.heads + 2 * s.kv_heads, s.head_dim)
        heads = heads.transpose(0, 2, 1, 3)  # (batch, heads, tokens, head_dim)
        q = heads[:, : s.heads]
        k = heads[:, s.heads : s.heads + s.kv_heads]
        v = heads[:, s.heads + s.kv_heads :]
        rope = dict(traditional=False, base=s.rope_theta, scale=1.0, offset=start)
        q = mx.fast.rope(q, s.head_dim, **rope)
        k = mx.fast.rope(k, s.head_dim, **rope)
        if mask is not None:
            at = mx.reshape(start, (1,))
            keys = cache.keys[layer] = mx.slice_update(cache.keys[layer], k, at, axes=(2,))
            values = cache.values[layer] = mx.slice_update(cache.values[layer], v, at, axes=(2,))
        else:
            end = start + tokens
            keys, values = cache.keys[layer], cache.values[layer]
            keys[:, :, start:end] = k
            values[:, :, start:end] = v
            keys, values = keys[:, :, :end], values[:, :, :end]
            mask = "causal" if tokens > 1 else None
        attended = mx.fast.scaled_dot_product_attention(
            q, keys, values, scale=self.scale, mask=mask
        )
        attended = attended.transpose(0, 2, 1, 3).reshape(batch, tokens, s.heads * s.head_dim)
        x = x + self.linear(attended, w["out"])
        normed = mx.fast.rms_norm(x, w["mlp_norm"], NORM_EPS)
        gate, up = mx.split(self.linear(normed, w["gate_up"]), 2, -1)
        return x + self.linear(gate * mx.sigmoid(gate) * up, w["down"])
