"""The report's batch-sweep section: the crossover table, the throughput table, two plots.

The fixture run is built from known step times: the CPU takes 1 ms per image at every
batch; CUDA takes 4 ms per step whatever the batch (its speedup b/4 reaches 1 at b = 4
exactly, a measured point; a tie is not faster, so the crossing is bracketed by 4 and 8) in
PyTorch, and 16 ms per step in TensorFlow (b/16: crossing at b = 16); MPS (PyTorch) takes
1 ms per image times 2/sqrt(b), speedup sqrt(b)/2, crossing at b = 4 as well but reaching
only 2.83x at b = 32.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from fixtures.runs import LABELS, record, saved_run, write
from test_report import PNG_MAGIC, one, table_rows

from accelbench.__main__ import main
from accelbench.core.spec import batch_variant

BATCHES = [1, 2, 4, 8, 16, 32]
STEP_S = {
    ("torch", "cpu"): lambda b: 1e-3 * b,
    ("torch", "cuda"): lambda b: 4e-3,
    ("torch", "mps"): lambda b: 1e-3 * b * 2 / math.sqrt(b),
    ("tf", "cpu"): lambda b: 1e-3 * b,
    ("tf", "cuda"): lambda b: 16e-3,
}


def sweep_records() -> list[dict]:
    records = []
    for (framework, device), seconds in STEP_S.items():
        for b in BATCHES:
            r = record(
                "cnn",
                device,
                "infer",
                seconds(b),
                framework=framework,
                variant=batch_variant("", b),
                items=b,
            )
            if b == 1:
                r["extra_info"]["latency_batch1_s"] = 2 * seconds(1)
            records.append(r)
    records.append(record("cnn", "cpu", "train", 8e-3))  # a plain case beside the sweep
    return records


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sweep-report")
    run = write(folder / "run.json", saved_run(sweep_records()))
    assert main(["report", str(run), "--out", str(folder / "out")]) == 0
    return folder / "out"


HEADING = "### Batch sweeps: from which batch is the accelerator faster?"


def test_the_crossover_table_gives_each_accelerator_and_framework_its_crossing(report):
    rows = table_rows((report / "report.md").read_text(), HEADING)
    torch_cuda = one(rows, case="torch cnn", accelerator=LABELS["cuda"])
    assert torch_cuda["crossover (batch)"] == "4 (4-8)"
    assert torch_cuda["speedup, smallest batch"] == "0.25x (b=1)"
    assert torch_cuda["speedup, largest batch"] == "8.00x (b=32)"
    assert one(rows, case="tf cnn", accelerator=LABELS["cuda"])["crossover (batch)"] == (
        "16 (16-32)"
    )
    mps = one(rows, case="torch cnn", accelerator=LABELS["mps"])
    assert mps["crossover (batch)"] == "4 (4-8)"
    assert mps["speedup, largest batch"] == f"{math.sqrt(32) / 2:.2f}x (b=32)"
    assert all(r["faster below"] == "-" for r in rows)


def test_the_throughput_table_gives_the_batch_at_ninety_percent_and_the_latency(report):
    section = (report / "report.md").read_text().split(HEADING, 1)[1]
    rows = table_rows(section, "![Speedup over the CPU against batch size](batch-speedup.png)")
    cpu = one(rows, case="torch cnn", device=LABELS["cpu"])
    assert cpu["batches"] == "1, 2, 4, 8, 16, 32"
    assert cpu["best throughput"].endswith("images/s (b=1)")  # flat: 1000 images/s everywhere
    assert cpu["90% of best at batch"] == "1"
    assert cpu["latency b=1"] == "2 ms"
    cuda = one(rows, case="torch cnn", device=LABELS["cuda"])
    assert cuda["best throughput"] == "8k images/s (b=32)"
    assert cuda["90% of best at batch"] == "32"
    assert cuda["latency b=1"] == "8 ms"


def test_the_saved_json_block_holds_the_same_crossover(report):
    saved = json.loads((report.parent / "run.json").read_text())["accelbench"]["crossover"]
    (row,) = [r for r in saved if r["framework"] == "tf" and r["device"] == "cuda"]
    assert row["crossover_batch"] == pytest.approx(16.0)
    assert row["crossover_between"] == [16, 32]
    assert row["speedup_over_cpu"] == pytest.approx([b / 16 for b in BATCHES])


@pytest.mark.parametrize("name", ["batch-speedup.png", "batch-throughput.png"])
def test_the_batch_plots_are_png_files_embedded_in_the_page(report, name):
    assert (report / name).read_bytes()[:8] == PNG_MAGIC
    assert (
        "![Speedup over the CPU against batch size](batch-speedup.png)"
        in (report / "report.md").read_text()
    )
    assert "data:image/png;base64," in (report / "report.html").read_text()


def test_bar_charts_show_a_batch_sweep_at_its_largest_batch_only(report):
    markdown = (report / "report.md").read_text()
    assert "Bar charts show each batch sweep at its largest batch only." in markdown


def test_a_cpu_only_sweep_has_throughput_but_no_crossover(tmp_path):
    records = [r for r in sweep_records() if r["extra_info"]["device"] == "cpu"]
    run = write(tmp_path / "run.json", saved_run(records))
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "Only the CPU swept: no crossover to show." in markdown
    assert (tmp_path / "out" / "batch-throughput.png").read_bytes()[:8] == PNG_MAGIC
    assert not (tmp_path / "out" / "batch-speedup.png").exists()


def test_a_run_without_a_batch_sweep_has_no_batch_section(tmp_path):
    run = write(tmp_path / "run.json", saved_run([record("cnn", "cpu", "train", 8e-3)]))
    assert main(["report", str(run), "--out", str(tmp_path / "out")]) == 0
    assert "Batch sweeps" not in (tmp_path / "out" / "report.md").read_text()
