"""The language model's cases as llama-bench's table: a row per model shape, weights, mode
and test, tokens/s as avg ± stddev, every cell escaped."""

import json
from pathlib import Path

from accelbench.__main__ import main
from accelbench.results import llama_bench
from accelbench.results.runs import load_run

H100_QUANT = Path(__file__).parent.parent / "docs/runs/h100/llm_full_quant_tg_graph.json"


def test_a_row_per_shape_weights_mode_and_test_as_llama_bench_prints_it():
    table = llama_bench.markdown(load_run(H100_QUANT)).splitlines()
    assert table[0] == (
        "| model | size | params | backend | mode | threads | test | t/s | median t/s |"
    )
    graph_w4 = next(line for line in table if "w4" in line and "graph" in line)
    cells = [c.strip() for c in graph_w4.strip("|").split("|")]
    assert cells[0] == "Llama-3.2-1B w4"
    assert cells[2] == "1.24 B"
    assert cells[3:5] == ["torch cuda", "graph"]
    assert cells[6] == "tg128 @ d512"
    avg, spread = (float(x) for x in cells[7].split(" ± "))
    row = next(
        r
        for r in llama_bench.rows(load_run(H100_QUANT))
        if r["test"] == cells[6] and r["mode"] == "graph" and r["weights"] == "w4"
    )
    assert (avg, spread) == (round(row["avg_ts"], 2), round(row["stddev_ts"], 2))
    assert float(cells[8]) == round(row["median_ts"], 2)
    assert len(table) == 2 + 4  # header, rule, w4 and w8 in eager and graph


def test_a_hostile_shape_name_cannot_break_the_table(tmp_path):
    saved = json.loads(H100_QUANT.read_text())
    for bench in saved["benchmarks"]:
        shapes = bench["extra_info"].get("shapes") or {}
        if "shape_of" in shapes:
            shapes["shape_of"] = "a | b <script>\nc"
    run = tmp_path / "run.json"
    run.write_text(json.dumps(saved))
    rows = llama_bench.markdown(load_run(run)).splitlines()
    assert all(line.count(" | ") == 8 for line in rows[2:])
    assert "a \\| b \\<script\\> c w4" in rows[2]


def test_the_export_command_writes_the_table(tmp_path, capsys):
    out = tmp_path / "llm.md"
    assert main(["export", str(H100_QUANT), "--format", "llama-bench-md", "--out", str(out)]) == 0
    assert out.read_text() == llama_bench.markdown(load_run(H100_QUANT))
