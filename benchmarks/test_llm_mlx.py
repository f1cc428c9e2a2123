"""Language-model inference in MLX: pp and tg with a KV cache, as in test_llm.py."""

import pytest

from accelbench.workloads.llm_mlx import MlxLanguageModel


@pytest.mark.workload.with_args(MlxLanguageModel)
def test_llm_mlx(measure):
    measure()
