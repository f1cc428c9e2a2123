"""The Transformer encoder in MLX on variable-length padded sequences, as in test_transformer.py."""

import pytest

from accelbench.workloads.transformer_mlx import MlxTransformerEncoder


@pytest.mark.workload.with_args(MlxTransformerEncoder)
def test_transformer_mlx(measure):
    measure()
