"""The Transformer encoder in MLX: the PyTorch one (accelbench.workloads.transformer), layer
for layer, on the same variable-length, padded batches.

Token embedding scaled by sqrt(d), the same sinusoidal positions, pre-norm encoder layers
(LayerNorm, self-attention with one in-projection for q, k and v as in
``torch.nn.MultiheadAttention``, residual; LayerNorm, Linear-GELU-Linear, residual), a final
LayerNorm and the per-token head, with no dropout. Padded keys are masked out of attention
(``mx.fast.scaled_dot_product_attention`` with a boolean mask, True = a real token); the
loss is cross-entropy averaged over real tokens, trained with AdamW (bias-corrected, as
PyTorch's). Only real positions are compared with PyTorch, as padded outputs mean nothing.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from accelbench.backends.mlx.workload import MlxModelWorkload, mixed_layers
from accelbench.workloads.transformer import (
    PAD,
    TransformerEncoderWorkload,
    TransformerSize,
    sinusoidal_encoding,
)

# torch.nn.MultiheadAttention keeps its q/k/v projection as two raw parameters.
_RENAMED = {".self_attn.in_proj_weight": ".self_attn.in_proj.weight"}
_RENAMED[".self_attn.in_proj_bias"] = ".self_attn.in_proj.bias"


class MlxTransformerEncoder(MlxModelWorkload):
    name = TransformerEncoderWorkload.name
    item_unit = TransformerEncoderWorkload.item_unit
    SIZES = TransformerEncoderWorkload.SIZES
    twin = TransformerEncoderWorkload

    def build_model(self) -> Any:
        return encoder_classes().EncoderClassifier(self.size)

    def convert_inputs(self, inputs: tuple[Any, ...]) -> tuple[Any, ...]:
        tokens, padding_mask = inputs
        real = ~padding_mask.numpy()
        self.real_tokens = int(real.sum())
        self.real = self.mx.array(real)
        return self.mx.array(tokens.numpy().astype(np.int32)), self.real

    def convert_targets(self, targets: Any) -> Any:
        """Padded positions carry PyTorch's ignore index; here any valid class, masked out."""
        values = targets.numpy()
        return self.mx.array(np.where(values < 0, PAD, values).astype(np.int32))

    def mlx_name(self, torch_name: str) -> str:
        for old, new in _RENAMED.items():
            if torch_name.endswith(old):
                return torch_name[: -len(old)] + new
        return torch_name

    def loss(self, output: Any, targets: Any) -> Any:
        mx = self.mx
        losses = self.nn.losses.cross_entropy(output.astype(mx.float32), targets)
        real = self.real.astype(mx.float32)
        return (losses * real).sum() / real.sum()

    def make_optimizer(self) -> Any:
        return self.optim.AdamW(learning_rate=1e-4, bias_correction=True)

    def parity_outputs(self) -> dict[str, np.ndarray]:
        outputs = super().parity_outputs()
        outputs["output"] = outputs["output"][np.asarray(self.real)]  # (real tokens, vocab)
        return outputs

    @property
    def items_per_step(self) -> int:
        return self.real_tokens

    def shapes(self) -> dict[str, Any]:
        s = self.size
        return {
            "batch": s.batch,
            "input": [s.batch, s.max_length],
            "d_model": s.d_model,
            "heads": s.heads,
            "layers": s.layers,
            "vocab": s.vocab,
            "length_range": [s.min_length, s.max_length],
            "real_tokens": self.real_tokens,
        }


@functools.cache
def encoder_classes() -> Any:
    """The MLX modules, defined on first use so that importing this module never imports MLX."""
    from types import SimpleNamespace

    from accelbench.backends.mlx.devices import modules

    mx, nn, _ = modules()
    layers = mixed_layers()

    class SelfAttention(nn.Module):
        """torch.nn.MultiheadAttention for self-attention: in-projection, heads, out-projection."""

        def __init__(self, d_model: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.in_proj = layers.Linear(d_model, 3 * d_model)
            self.out_proj = layers.Linear(d_model, d_model)

        def __call__(self, x: Any, keep: Any) -> Any:
            batch, length, d_model = x.shape
            q, k, v = mx.split(self.in_proj(x), 3, axis=-1)
            q, k, v = (
                t.reshape(batch, length, self.heads, -1).transpose(0, 2, 1, 3) for t in (q, k, v)
            )
            scale = (d_model // self.heads) ** -0.5
            out = mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=keep)
            return self.out_proj(out.transpose(0, 2, 1, 3).reshape(batch, length, d_model))

    class EncoderLayer(nn.Module):
        """torch.nn.TransformerEncoderLayer(norm_first=True, activation="gelu", dropout=0)."""

        def __init__(self, size: TransformerSize) -> None:
            super().__init__()
            self.self_attn = SelfAttention(size.d_model, size.heads)
            self.linear1 = layers.Linear(size.d_model, size.feedforward)
            self.linear2 = layers.Linear(size.feedforward, size.d_model)
            self.norm1 = nn.LayerNorm(size.d_model)
            self.norm2 = nn.LayerNorm(size.d_model)

        def __call__(self, x: Any, keep: Any) -> Any:
            x = x + self.self_attn(self.norm1(x), keep)
            return x + self.linear2(nn.gelu(self.linear1(self.norm2(x))))

    class Encoder(nn.Module):
        def __init__(self, size: TransformerSize) -> None:
            super().__init__()
            self.layers = [EncoderLayer(size) for _ in range(size.layers)]
            self.norm = nn.LayerNorm(size.d_model)

        def __call__(self, x: Any, keep: Any) -> Any:
            for layer in self.layers:
                x = layer(x, keep)
            return self.norm(x)

    class EncoderClassifier(nn.Module):
        """tokens (B, L) and real-token mask (B, L, True = real) -> logits (B, L, vocab)."""

        def __init__(self, size: TransformerSize) -> None:
            super().__init__()
            self.scale = float(np.sqrt(size.d_model))
            self.embed = nn.Embedding(size.vocab, size.d_model)
            # A leading underscore keeps the fixed encoding out of the parameters.
            self._position = mx.array(sinusoidal_encoding(size.max_length, size.d_model).numpy())
            self.encoder = Encoder(size)
            self.head = layers.Linear(size.d_model, size.vocab)

        def __call__(self, tokens: Any, real: Any) -> Any:
            x = self.embed(tokens) * self.scale + self._position[: tokens.shape[1]]
            keep = real[:, None, None, :]  # (B, 1, 1, L): every query sees the real keys
            return self.head(self.encoder(x, keep))

    return SimpleNamespace(EncoderClassifier=EncoderClassifier)
