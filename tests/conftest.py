"""Shared fixtures: whole pytest sessions of the suite, run in a scratch directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A scratch project with the accelbench plugin and the repository's pytest options.

    Copy benchmark modules in with ``add_benchmarks(suite, "test_resnet18.py", ...)``.
    """
    pytester.makeconftest('pytest_plugins = ["accelbench.plugin"]')
    ini = (ROOT / "pytest.ini").read_text().replace("testpaths = tests", "testpaths = benchmarks")
    pytester.makefile(".ini", pytest=ini)
    (pytester.path / "benchmarks").mkdir()
    return pytester


def add_benchmarks(pytester: pytest.Pytester, *names: str) -> None:
    for name in names:
        shutil.copy(ROOT / "benchmarks" / name, pytester.path / "benchmarks" / name)
