"""A Transformer encoder on batches of variable-length token sequences.

Token embedding, sinusoidal positional encoding, ``torch.nn.TransformerEncoder`` (pre-norm
layers, GELU, ``batch_first=True``, dropout 0 so a step is deterministic and the CPU and an
accelerator compute the same function) and a head that scores every token over the
vocabulary. Each batch holds sequences of lengths drawn from a seeded range, padded to
the profile's maximum length and passed with ``src_key_padding_mask``; the loss is
cross-entropy over real tokens only, and throughput counts real tokens only.

Padding and the fast path: ``enable_nested_tensor=False``. With nested tensors, the encoder
in inference packs away the padded positions on the CPU and CUDA but not on MPS, so the
devices would do different work for the same case, and the padded outputs come back as
zeros. Without them every device runs the same dense, padded shapes (what the FLOP count
counts). The fused inference fast path (``torch._transformer_encoder_layer_fwd``) still
runs where torch offers it; the outputs at padded positions mean nothing either way, so
``parity_outputs`` compares real positions only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from accelbench.backends.torch.workload import TorchWorkload

PAD = 0
IGNORE = -100  # cross_entropy's ignore_index: the target at a padded position


@dataclass(frozen=True)
class TransformerSize:
    d_model: int
    heads: int
    layers: int
    vocab: int
    batch: int
    max_length: int
    min_length: int

    @property
    def feedforward(self) -> int:
        return 4 * self.d_model


def sinusoidal_encoding(length: int, d_model: int) -> torch.Tensor:
    """The fixed positional encoding of "Attention Is All You Need", (length, d_model)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
    encoding = torch.zeros(length, d_model)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)
    return encoding


class EncoderClassifier(nn.Module):
    """tokens (B, L) and padding mask (B, L, True = pad) -> logits (B, L, vocab)."""

    def __init__(self, size: TransformerSize) -> None:
        super().__init__()
        self.scale = math.sqrt(size.d_model)
        self.embed = nn.Embedding(size.vocab, size.d_model, padding_idx=PAD)
        self.register_buffer(
            "position", sinusoidal_encoding(size.max_length, size.d_model), persistent=False
        )
        layer = nn.TransformerEncoderLayer(
            size.d_model,
            size.heads,
            size.feedforward,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, size.layers, norm=nn.LayerNorm(size.d_model), enable_nested_tensor=False
        )
        self.head = nn.Linear(size.d_model, size.vocab)

    def forward(self, tokens: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) * self.scale + self.position[: tokens.shape[1]]
        return self.head(self.encoder(x, src_key_padding_mask=padding_mask))


class TransformerEncoderWorkload(TorchWorkload):
    name = "transformer"
    item_unit = "tokens"
    SIZES = {
        "smoke": TransformerSize(
            d_model=32, heads=2, layers=1, vocab=64, batch=4, max_length=16, min_length=4
        ),
        "standard": TransformerSize(
            d_model=256, heads=4, layers=4, vocab=8192, batch=16, max_length=256, min_length=64
        ),
        "full": TransformerSize(
            d_model=512, heads=8, layers=6, vocab=32000, batch=32, max_length=512, min_length=128
        ),
    }
    # The batch sweep stops at the profile's own token budget (batch x max_length tokens).
    SIZES["quick"] = SIZES["standard"]
    MAX_SWEEP_BATCH = {name: size.batch for name, size in SIZES.items()}

    def build_model(self) -> Any:
        return EncoderClassifier(self.size)

    def make_batch(self, generator: Any) -> tuple[tuple[Any, ...], Any]:
        s = self.size
        lengths = torch.randint(s.min_length, s.max_length + 1, (s.batch,), generator=generator)
        padding_mask = torch.arange(s.max_length)[None, :] >= lengths[:, None]
        tokens = torch.randint(PAD + 1, s.vocab, (s.batch, s.max_length), generator=generator)
        targets = torch.randint(PAD + 1, s.vocab, (s.batch, s.max_length), generator=generator)
        tokens[padding_mask] = PAD
        targets[padding_mask] = IGNORE
        return (tokens, padding_mask), targets

    @property
    def tokens(self) -> torch.Tensor:
        return self.inputs[0]

    @property
    def padding_mask(self) -> torch.Tensor:
        """(batch, max_length), True at padded positions."""
        return self.inputs[1]

    def loss(self, output: Any, targets: Any) -> Any:
        """Mean cross-entropy over real tokens; padded positions carry the ignored target."""
        return nn.functional.cross_entropy(
            output.float().flatten(0, 1), targets.flatten(), ignore_index=IGNORE
        )

    def make_optimizer(self, params: list[Any]) -> Any:
        return torch.optim.AdamW(params, lr=1e-4)

    def parity_outputs(self) -> dict[str, np.ndarray]:
        outputs = super().parity_outputs()
        real = ~self.padding_mask.cpu().numpy()
        outputs["output"] = outputs["output"][real]  # (real tokens, vocab)
        return outputs

    @property
    def items_per_step(self) -> int:
        return int((~self.padding_mask).sum())

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
            "real_tokens": self.items_per_step,
        }

    def flops_per_step(self) -> int | None:
        """Counted by torch's FLOP counter on one step through the unfused modules (math
        attention, no inference fast path), which do the same matmuls as the fused kernels
        but are visible to the counter on every device."""
        from torch.nn.attention import SDPBackend, sdpa_kernel

        fast_path = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            with sdpa_kernel(SDPBackend.MATH):
                return super().flops_per_step()
        finally:
            torch.backends.mha.set_fastpath_enabled(fast_path)
