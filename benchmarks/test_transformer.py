"""A Transformer encoder on padded batches of variable-length token sequences."""

import pytest

from accelbench.workloads.transformer import TransformerEncoderWorkload


@pytest.mark.workload.with_args(TransformerEncoderWorkload)
def test_transformer(measure):
    measure()
