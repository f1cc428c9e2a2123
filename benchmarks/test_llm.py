"""Language-model inference: prompt processing (pp) and token generation (tg) with a KV cache."""

import pytest

from accelbench.workloads.llm import LanguageModel


@pytest.mark.workload.with_args(LanguageModel)
def test_llm(measure):
    measure()
