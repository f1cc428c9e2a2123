"""The layers as docs/architecture.md draws them, read from the source: every arrow between
the suite's parts points down, so core stands alone, the read side (results, report) needs
no workload or framework, and a workload knows nothing of pytest or saved runs."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "accelbench"

# What each part may not import (the parts above it, and the other side).
FORBIDDEN = {
    "core": ("backends", "workloads", "results", "report", "plugin", "ddp_plugin", "config"),
    "results": ("backends", "workloads", "report", "plugin", "ddp_plugin", "config"),
    "report": ("backends", "workloads", "plugin", "ddp_plugin", "config"),
    "workloads": ("results", "report", "plugin", "ddp_plugin", "config"),
    "backends": ("results", "report", "plugin", "ddp_plugin", "config"),
}


def imported_parts(path: Path) -> set[str]:
    """The parts of accelbench a module imports (``accelbench.core.spec`` -> ``core``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if node.module != "accelbench":
                modules = modules[:1]
        else:
            continue
        found |= {m.split(".")[1] for m in modules if m.startswith("accelbench.")}
    return found


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_no_arrow_points_up(part):
    wrong = {
        f"{path.relative_to(PACKAGE.parent)} imports accelbench.{name}"
        for path in sorted((PACKAGE / part).rglob("*.py"))
        for name in imported_parts(path) & set(FORBIDDEN[part])
    }
    assert not wrong, sorted(wrong)


def test_the_check_sees_an_upward_arrow(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "def f():\n    from accelbench import backends\n    import accelbench.report.build\n"
    )
    assert imported_parts(module) == {"backends", "report"}
