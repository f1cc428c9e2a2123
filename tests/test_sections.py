"""The summary's sections as objects: rows read back from their saved form are the rows that
were saved, and the read side stands on core and results alone."""

import ast
import json
from pathlib import Path

import pytest

from accelbench.results import views
from accelbench.results.record import parse_entries

ROOT = Path(__file__).parent.parent
SAVED_RUNS = [
    ROOT / "tests/golden/runs/cpu_smoke_everything.json",
    ROOT / "tests/golden/runs/cpu_smoke_modes_batch_sweep.json",
    ROOT / "docs/runs/h200/llm_std_bf16_L512_graph.json",
    ROOT / "docs/runs/h200x2/ddp2_full_bf16.json",
    ROOT / "docs/runs/h200/energy_resnet18_bf16.json",
    ROOT / "docs/runs/h200/mlx_torch_cuda_bf16.json",
]


@pytest.mark.parametrize("path", SAVED_RUNS, ids=lambda p: p.stem)
def test_each_sections_rows_read_back_from_their_saved_form_unchanged(path):
    records, _ = parse_entries(json.loads(path.read_text())["benchmarks"])
    summary = views.summarize(records)
    assert any(summary.values())
    for section in views.SECTIONS:
        saved = section.saved(summary[section.key])
        assert json.loads(json.dumps(saved)) == saved  # plain JSON, as the run saves it
        assert section.load(saved) == summary[section.key]


def test_every_section_is_registered_once_and_prints_nothing_without_rows():
    keys = [s.key for s in views.SECTIONS]
    assert len(keys) == len(set(keys))
    assert all(s.text([]) == "" for s in views.SECTIONS)  # no rows: nothing printed


def _imports(folder: str) -> set[str]:
    found = set()
    for path in (ROOT / "accelbench" / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("folder", ["results", "report"])
def test_the_read_side_imports_no_workload_and_no_backend(folder):
    leaks = sorted(
        m for m in _imports(folder) if m.startswith(("accelbench.workloads", "accelbench.backends"))
    )
    assert leaks == []
