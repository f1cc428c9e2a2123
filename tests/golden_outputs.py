"""What the read side makes of a few saved runs: the summary, the saved block, compare,
the report and the exports, as text. ``tests/test_golden.py`` holds them byte for byte
against ``tests/golden/out/``, so a change of structure that changes a figure, a word or a
column fails there.

Regenerate (only for a change of output that is meant): ``python tests/golden_outputs.py``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
OUT = HERE / "golden" / "out"

# Saved runs of several ages and kinds: today's CPU smoke of every framework and workload
# (TF, MLX), eager and compiled modes with a batch sweep, CUDA runs of earlier formats
# (language model with graph mode and ceilings, modes, sweeps, energy, two GPUs).
RUNS = {
    "cpu_smoke": HERE / "golden/runs/cpu_smoke_everything.json",
    "cpu_modes_sweep": HERE / "golden/runs/cpu_smoke_modes_batch_sweep.json",
    "h100_standard": ROOT / "docs/runs/h100/standard_cuda.json",
    "h200_llm_graph": ROOT / "docs/runs/h200/llm_std_bf16_L512_graph.json",
    "h200_llm_cpu": ROOT / "docs/runs/h200/llm_std_bf16_L512_cpu.json",
    "h200_llm": ROOT / "docs/runs/h200/llm_std_bf16.json",
    "h200_llm_rerun": ROOT / "docs/runs/h200/llm_std_bf16_rerun.json",
    "h200_modes": ROOT / "docs/runs/h200/modes_resnet.json",
    "h200_sweep": ROOT / "docs/runs/h200/sweep_cnn_transformer.json",
    "h200_energy": ROOT / "docs/runs/h200/energy_resnet18_bf16.json",
    "h200_mlx_torch": ROOT / "docs/runs/h200/mlx_torch_cuda_bf16.json",
    "h200x2_ddp": ROOT / "docs/runs/h200x2/ddp2_full_bf16.json",
    "fixture_e794f7d": HERE / "fixtures/saved_e794f7d.json",
}
COMPARES = {
    "llm_rerun": ("h200_llm", "h200_llm_rerun"),
    "llm_graph_vs_cpu": ("h200_llm_graph", "h200_llm_cpu"),
    "smoke_self": ("cpu_smoke", "cpu_smoke"),
    "smoke_vs_modes": ("cpu_smoke", "cpu_modes_sweep"),
    "h100_vs_h200_modes": ("h100_standard", "h200_modes"),
}
REPORTS = {
    "cpu_smoke": ("cpu_smoke",),
    "h200_llm": ("h200_llm_graph", "h200_llm_cpu"),
    "h200_mixed": ("h200_modes", "h200_sweep", "h200x2_ddp", "h200_energy"),
}
IMAGE_DATA = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")
EXPORT_FORMATS = ("github-action-benchmark", "bencher", "csv")


@contextlib.contextmanager
def _captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        yield out


def _cli(*argv: str) -> str:
    from accelbench.__main__ import main

    with _captured() as out:
        code = main(list(argv))
    return f"{out.getvalue()}exit {code}\n"


def summary(name: str) -> str:
    """The end-of-run summary in full (-v), as the plugin renders it from the run's records,
    and the saved ``accelbench`` block's computed sections."""
    from accelbench.results import text, views
    from accelbench.results.record import parse_entries

    saved = json.loads(RUNS[name].read_text())
    records, unusable = parse_entries(saved.get("benchmarks", []))
    computed = views.compute_all(records)
    devices = sorted({r.key.device for r in records if r.key and r.key.device != "cpu"})
    body = text.render_all(computed)
    headline = text.render_headline(computed, devices, {})
    block = json.dumps(computed, indent=1, sort_keys=True, default=str)
    return f"{body}\n{headline}\nunusable: {unusable}\n--- saved block\n{block}\n"


def outputs() -> dict[str, str]:
    """Every golden output, by file name."""
    found: dict[str, str] = {}
    for name in RUNS:
        found[f"summary_{name}.txt"] = summary(name)
        for fmt in EXPORT_FORMATS:
            found[f"export_{name}_{fmt}.txt"] = _cli("export", str(RUNS[name]), "--format", fmt)
    for name, (baseline, current) in COMPARES.items():
        found[f"compare_{name}.txt"] = _cli("compare", str(RUNS[baseline]), str(RUNS[current]))
    for name, runs in REPORTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            said = _cli("report", *(str(RUNS[r]) for r in runs), "--out", tmp).replace(tmp, "OUT")
            folder = Path(tmp)
            found[f"report_{name}.md"] = (folder / "report.md").read_text()
            # The plots' pixels are matplotlib's; the page around them is the suite's.
            html = (folder / "report.html").read_text()
            found[f"report_{name}.html"] = IMAGE_DATA.sub("data:image/png;base64,PNG", html)
            found[f"report_{name}_files.txt"] = said + "".join(
                f"{p.name}\n" for p in sorted(folder.iterdir())
            )
    return {k: v.replace(str(ROOT), "ROOT") for k, v in found.items()}


def write() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    for name, content in outputs().items():
        (OUT / name).write_text(content)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    write()
