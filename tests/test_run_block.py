"""The run's own ``accelbench`` block, read once into a typed ``RunBlock``: what decides
whether a run can be read is checked (format, partial mark), the facts the report shows are
kept where they have their type, and runs saved before a part existed read without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accelbench.core.saved_form import Unusable
from accelbench.results.run_block import RESULTS_FORMAT, RunBlock, RunConditions, RunConfig
from accelbench.results.runs import load_run

GOLDEN_SMOKE = Path(__file__).parent / "golden/runs/cpu_smoke_everything.json"


def test_a_saved_runs_block_reads_into_its_typed_parts():
    block = load_run(GOLDEN_SMOKE).block
    assert block.format == RESULTS_FORMAT and not block.partial
    assert block.config == RunConfig("smoke", "fp32", ("cpu",), ("torch", "tf", "mlx"))
    assert block.conditions is not None
    assert block.conditions.warnings == () and block.conditions.cores == 2
    assert block.conditions.load_average_1min == pytest.approx(0.2817, abs=1e-4)
    saved = json.loads(GOLDEN_SMOKE.read_text())["accelbench"]
    assert list(block.sections) == [k for k, v in saved.items() if isinstance(v, list)]
    assert len(block.sections["speedups"]) == len(saved["speedups"])


def test_a_run_saved_before_the_block_existed_reads_with_defaults():
    block = RunBlock.read({})
    assert (block.format, block.partial_reason, block.conditions) == (1, None, None)
    assert block.config == RunConfig() and dict(block.sections) == {}


def test_a_partial_run_without_a_reason_was_interrupted():
    assert RunBlock.read({"partial": True}).partial_reason == "interrupted"
    assert RunBlock.read({"partial": True, "partial_reason": "stopped"}).partial_reason == "stopped"


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ([], "its 'accelbench' block is not an object"),
        ({"format": "2"}, "its results format '2' is not a version number"),
        ({"format": True}, "its results format True is not a version number"),
        ({"format": RESULTS_FORMAT + 1}, "saved by a newer accelbench"),
        ({"partial": "yes"}, "its 'partial' mark is 'yes', not true or false"),
    ],
)
def test_a_block_that_cannot_be_read_is_refused_in_one_line(raw, said):
    with pytest.raises(Unusable, match=said) as caught:
        RunBlock.read(raw)
    assert "\n" not in str(caught.value)


def test_a_fact_of_the_wrong_type_is_left_out_not_fatal():
    conditions = {
        "warnings": "busy",  # not a list: the cases' flags tell instead
        "busy_rule": 3,
        "others_cores_max": "many",
        "load_average_before": [1.0],
        "cooldown_s": True,
    }
    block = RunBlock.read({"conditions": conditions, "config": "smoke", "environment": 5})
    assert block.conditions == RunConditions()
    assert block.config == RunConfig() and block.device_facts == {}
    assert RunBlock.read({"conditions": "calm"}).conditions is None


def test_sections_keep_their_object_rows_as_saved():
    block = RunBlock.read({"future_view": [{"case": "cnn"}, 3], "format": 2})
    assert [dict(r) for r in block.sections["future_view"]] == [{"case": "cnn"}]
