"""``accelbench run``: the benchmarks as ``pytest benchmarks --benchmark-only`` runs them in a
clone, from any folder, with the copies installed with the package.

pytest runs them with the folder above them as its root, so a case's name is the same
(``benchmarks/test_resnet18.py::test_resnet18[cpu-train]``) whether it ran from a clone or
from an installed package, and saved runs of both compare. No configuration file of the
current folder is read, and pytest's cache is not written (the root is the installed
package); the run is saved under the current folder's ``.benchmarks``.
"""

from __future__ import annotations

import os
from pathlib import Path

import accelbench

BENCHMARKS = "benchmarks"


def benchmarks_folder() -> Path:
    """The installed copies (``accelbench/benchmarks``), or a clone's ``benchmarks``."""
    package = Path(accelbench.__file__).resolve().parent
    installed = package / BENCHMARKS
    return installed if installed.is_dir() else package.parent / BENCHMARKS


def pytest_args(extra: list[str]) -> list[str]:
    folder = benchmarks_folder()
    return [
        "-p",
        "accelbench.plugin",
        "-c",
        os.devnull,
        "--rootdir",
        str(folder.parent),
        "-p",
        "no:cacheprovider",
        str(folder),
        "--benchmark-only",
        *extra,
    ]


def main(extra: list[str]) -> int:
    import pytest

    return int(pytest.main(pytest_args(extra)))
