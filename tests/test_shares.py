"""Shares of a ceiling that bound, and ratios of modes that say when not to trust them.

A ceiling is the fastest round of a large matmul or copy on the same device and dtype; a
case that outruns it gets no share but a mark with the reason. One rule in ``views`` feeds
the end-of-run summary, the saved ``accelbench`` block and ``report`` alike.
"""

from __future__ import annotations

import re

import pytest
from fixtures.runs import ceiling, record, saved_run, write

from accelbench.__main__ import main
from accelbench.results.llm import LLM
from accelbench.results.modes import IMPLAUSIBLE, MODES
from accelbench.results.record import parse_entries
from accelbench.results.shares import CEILING_BELOW, CEILING_TOO_SMALL

PP_FLOPS = 10**12
TG_BYTES = 2 * 10**9


def pp(device: str, tflops: float, **kw) -> dict:
    """A prompt of 512 tokens doing ``PP_FLOPS`` per step at ``tflops`` TFLOP/s."""
    return record(
        "llm",
        device,
        "pp",
        PP_FLOPS / (tflops * 1e12),
        variant="ctx-L=512",
        items=512,
        item_unit="tokens",
        flops=PP_FLOPS,
        **kw,
    )


def tg(device: str, gb_per_s: float, **kw) -> dict:
    """One generated token moving ``TG_BYTES`` at ``gb_per_s`` GB/s."""
    entry = record(
        "llm",
        device,
        "tg",
        TG_BYTES / (gb_per_s * 1e9),
        variant="ctx-L=512",
        items=1,
        item_unit="tokens",
        bytes_moved=TG_BYTES,
        **kw,
    )
    entry["extra_info"]["shapes"] = {"batch": 1, "context": 512, "generate": 128}
    return entry


def llm(entries: list[dict]) -> dict[str, dict]:
    records, problems = parse_entries(entries)
    assert problems == []
    return {r["phase"]: r for r in LLM.saved(LLM.rows(records))}


# The ceiling ------------------------------------------------------------------------------


def test_a_ceiling_is_its_fastest_round_not_its_median():
    rows = llm([*ceiling("cpu", 2.0, 20.0, slower_median=2.0), pp("cpu", 1.5), tg("cpu", 15.0)])
    assert rows["pp"]["matmul_share"] == pytest.approx(1.5 / 2.0)
    assert rows["pp"]["matmul_ceiling"] == pytest.approx(2.0)
    assert rows["tg"]["copy_share"] == pytest.approx(15.0 / 20.0)
    assert rows["tg"]["copy_ceiling"] == pytest.approx(20.0)


def test_a_case_faster_than_its_ceiling_gets_a_mark_and_no_share():
    rows = llm([*ceiling("cpu", 1.0, 10.0), pp("cpu", 3.02), tg("cpu", 10.4)])
    assert (rows["pp"]["matmul_share"], rows["pp"]["matmul_share_mark"]) == (
        None,
        CEILING_BELOW,
    )
    assert (rows["tg"]["copy_share"], rows["tg"]["copy_share_mark"]) == (None, CEILING_BELOW)
    rendered = LLM.text(LLM.load(list(rows.values())))
    assert "302%" not in rendered and "104%" not in rendered
    assert rendered.count("over: ceiling below this case") == 2
    assert "share marks: over: the case ran faster than the ceiling" in rendered


def test_a_ceiling_measured_while_busy_marks_every_share_taken_against_it():
    rows = llm([*ceiling("cpu", 1.0, 10.0, flags=["busy"]), pp("cpu", 3.0), tg("cpu", 5.0)])
    assert (rows["pp"]["matmul_share"], rows["pp"]["matmul_share_mark"]) == (None, "ceiling busy")
    assert rows["tg"]["copy_share"] == pytest.approx(0.5)
    assert rows["tg"]["copy_share_mark"] == "ceiling busy"
    rendered = LLM.text(LLM.load(list(rows.values())))
    assert "over: ceiling busy" in rendered and "50% (ceiling busy)" in rendered


def test_a_ceiling_below_the_standard_size_is_marked_too_small():
    smoke = ceiling("cpu", 1.0, 10.0, n=256, copy_bytes=2 * 4 * 2**20)
    rows = llm([*smoke, pp("cpu", 0.5), tg("cpu", 12.0)])
    assert rows["pp"]["matmul_share_mark"] == CEILING_TOO_SMALL
    assert rows["pp"]["matmul_share"] == pytest.approx(0.5)
    assert (rows["tg"]["copy_share"], rows["tg"]["copy_share_mark"]) == (
        None,
        CEILING_TOO_SMALL,
    )


def test_a_standard_size_ceiling_in_half_precision_is_not_too_small():
    """A bf16 copy of the standard size moves half the bytes of an fp32 one."""
    half = ceiling("cpu", 1.0, 10.0, copy_bytes=2 * 2 * 2**26, dtype="bf16")
    rows = llm([*half, tg("cpu", 5.0, dtype="bf16")])
    assert (rows["tg"]["copy_share"], rows["tg"]["copy_share_mark"]) == (pytest.approx(0.5), None)


def test_the_llm_table_names_the_ceilings_its_shares_were_taken_against():
    rows = llm([*ceiling("cuda", 50.0, 4000.0), pp("cuda", 10.0), tg("cuda", 2000.0)])
    rendered = LLM.text(LLM.load(list(rows.values())))
    assert (
        "ceilings used (the fastest round of each ceiling case): "
        "cuda fp32: copy 4000 GB/s, matmul 50 TFLOP/s"
    ) in rendered
    assert "share marks" not in rendered  # nothing marked, no legend


def test_summary_saved_block_and_report_show_the_same_mark(tmp_path):
    entries = [*ceiling("cpu", 1.0, 10.0), pp("cpu", 3.0), tg("cpu", 5.0)]
    run = saved_run(entries)
    (saved_pp,) = [r for r in run["accelbench"]["llm"] if r["phase"] == "pp"]
    assert (saved_pp["matmul_share"], saved_pp["matmul_share_mark"]) == (None, CEILING_BELOW)
    assert (
        main(["report", str(write(tmp_path / "run.json", run)), "--out", str(tmp_path / "o")]) == 0
    )
    markdown = (tmp_path / "o" / "report.md").read_text()
    workload_table = markdown.split("### torch llm", 1)[1].split("\n\n", 2)[1]
    assert "| over: ceiling below this case |" in workload_table
    assert "| 50% |" in workload_table  # tg: 5 of 10 GB/s
    assert "300%" not in markdown


# Modes ------------------------------------------------------------------------------------


def mode(device: str, median: float, mode_name: str = "eager", **kw) -> dict:
    entry = record("resnet18", device, "train", median, **kw)
    entry["extra_info"].update(mode=mode_name, memory_format="", recompiles_timed=0)
    return entry


def modes(entries: list[dict]) -> dict[tuple[str, str], dict]:
    records, problems = parse_entries(entries)
    assert problems == []
    return {(r["device"], r["mode"]): r for r in MODES.saved(MODES.rows(records))}


def test_a_plausible_steady_compile_over_eager_ratio_has_no_mark():
    rows = modes([mode("cpu", 0.2), mode("cpu", 0.1, "compile")])
    assert rows[("cpu", "compile")]["compile_over_eager"] == pytest.approx(2.0)
    assert rows[("cpu", "compile")]["compile_over_eager_mark"] is None
    assert "ratio marks" not in MODES.text(MODES.load(list(rows.values())))


@pytest.mark.parametrize("eager_s, compiled_s", [(0.2, 0.2 / 214.02), (0.2, 0.2 / 0.06)])
def test_an_implausible_compile_over_eager_ratio_is_marked(eager_s, compiled_s):
    rows = modes([mode("cpu", eager_s), mode("cpu", compiled_s, "compile")])
    assert rows[("cpu", "compile")]["compile_over_eager_mark"] == IMPLAUSIBLE
    rendered = MODES.text(MODES.load(list(rows.values())))
    assert re.search(r"\d+\.\d\dx \(implausible\)", rendered)
    assert "ratio marks:" in rendered


def test_a_ratio_from_a_noisy_or_recompiling_case_carries_its_marks():
    noisy_eager = mode("cpu", 0.2, iqr=0.1)
    recompiling = mode("cpu", 0.1, "compile")
    recompiling["extra_info"]["recompiles_timed"] = 1
    rows = modes([noisy_eager, recompiling])
    assert rows[("cpu", "compile")]["compile_over_eager_mark"] == "noisy, recompiled"
    assert "2.00x (noisy, recompiled)" in MODES.text(MODES.load(list(rows.values())))
