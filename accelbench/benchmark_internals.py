"""Everything the suite takes from pytest-benchmark's and argparse's internals, in one place.

pytest-benchmark offers hooks for what it saves and compares, but no public interface for
its session (the benchmarks of the run, the options that write files, the compared
entries) or for how ``--benchmark-json`` is declared. What the suite needs of those lives
here, written against each supported version (pytest-benchmark 5.1 to 5.3, tested by
tests/test_benchmark_internals.py; CI runs them against the oldest and the newest):

- up to 5.2, ``--benchmark-json`` is ``argparse.FileType("wb")``: argparse opens and
  empties the file when the command line is read, and the session holds the open file;
- from 5.3 it is ``type=Path``, opened by pytest-benchmark only when it writes at the end.

Anything unexpected leaves pytest-benchmark's own behaviour in place rather than failing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_benchmark.session import PerformanceRegression
from pytest_benchmark.storage.file import FileStorage
from pytest_benchmark.utils import get_machine_id, get_tag, safe_dumps

__all__ = [
    "PerformanceRegression",
    "autosave_name",
    "compared_entries",
    "defer_json_open",
    "drop_untimed",
    "dumps",
    "entries",
    "hide_tables",
    "is_file_storage",
    "json_option_path",
    "machine_id",
    "ran_any",
    "release_json",
    "release_saving",
    "reload_compared",
    "session",
]

SESSION_PLUGIN = "pytest-benchmark"  # the name pytest-benchmark registers its session as


def session(config: Any) -> Any:
    """pytest-benchmark's session object of this run, or None where it is not loaded."""
    return config.pluginmanager.get_plugin(SESSION_PLUGIN)


def defer_json_open(parser: Any, json_target: type) -> bool:
    """Up to pytest-benchmark 5.2, make ``--benchmark-json`` parse into ``json_target`` (a
    path written at the end) instead of a file argparse opens, and empties, at once.
    Returns whether the option was changed (from 5.3 nothing needs to be)."""
    changed = False
    # pytest before 8.2 builds argparse's parser anew at each parse, from its own Argument
    # objects (their _attrs); later ones keep one argparse parser (optparser) all along.
    for group in getattr(parser, "_groups", []):
        for option in getattr(group, "options", []):
            attrs = getattr(option, "_attrs", None)
            named = "--benchmark-json" in option.names() and isinstance(attrs, dict)
            if named and isinstance(attrs.get("type"), argparse.FileType):
                attrs["type"] = option.type = json_target
                changed = True
    # argparse keeps no public map from an option to its action; _option_string_actions
    # has been its name since Python 3.2.
    actions = getattr(getattr(parser, "optparser", None), "_option_string_actions", {})
    action = actions.get("--benchmark-json") if isinstance(actions, dict) else None
    if action is not None and isinstance(action.type, argparse.FileType):
        action.type = json_target
        changed = True
    return changed


def json_option_path(value: Any) -> Path | None:
    """The path ``--benchmark-json`` names, whatever it parsed into: a path (5.3), the
    suite's stand-in, or argparse's open file (5.1-5.2 with the suite loaded late)."""
    if value is None or value is False:
        return None
    if isinstance(value, (str, Path)):
        return Path(value)
    name = getattr(value, "name", None)
    return Path(name) if isinstance(name, str) else None


def release_json(bs: Any) -> None:
    """Tell pytest-benchmark's session that ``--benchmark-json`` is written already,
    closing argparse's handle where there is one (it would write nothing into it)."""
    handle, bs.json = bs.json, None
    if hasattr(handle, "close"):
        handle.close()


def release_saving(bs: Any) -> None:
    """Tell pytest-benchmark's session that the run is saved already."""
    bs.save = bs.autosave = None


def hide_tables(bs: Any) -> None:
    """No per-workload tables from pytest-benchmark (its ``--benchmark-quiet`` for the
    display alone): its regression check and its errors still run and print."""
    bs.quiet = True


def drop_untimed(bs: Any) -> None:
    """Leave out of the session every benchmark without one timed round: one interrupted
    (Ctrl-C) inside ``benchmark.pedantic``, whose statistics pytest-benchmark has made but
    never filled. Its ``pytest_benchmark_generate_json`` saves them and fails on
    ``min()`` of no timings; an exception other than KeyboardInterrupt it marks itself."""
    benchmarks = getattr(bs, "benchmarks", None)
    if isinstance(benchmarks, list):
        benchmarks[:] = [bench for bench in benchmarks if _timed(bench)]


def _timed(bench: Any) -> bool:
    """Timed, or marked as failed (which pytest-benchmark leaves out of what it writes)."""
    if getattr(bench, "has_error", False):
        return True
    timings = getattr(getattr(bench, "stats", None), "data", None)
    return timings is None or len(timings) > 0


def is_file_storage(storage: Any) -> bool:
    return isinstance(storage, FileStorage)


def autosave_name() -> str:
    """The name ``--benchmark-autosave`` saves under: the commit, the time, and
    ``uncommitted-changes`` where the tree has any."""
    return get_tag()


def machine_id() -> str:
    """The folder name pytest-benchmark's file storage uses for this machine."""
    return get_machine_id()


def dumps(output_json: dict[str, Any]) -> bytes:
    """The saved form, byte for byte as pytest-benchmark writes it."""
    return safe_dumps(output_json, ensure_ascii=True, indent=4).encode()


def entries(bs: Any) -> list[dict[str, Any]]:
    """This run's benchmarks as pytest-benchmark saves them (those that ran and did not
    error; one with no stats, as under ``--benchmark-disable``, is left out)."""
    out = []
    for bench in getattr(bs, "benchmarks", []):
        if getattr(bench, "has_error", False):
            continue
        try:
            out.append(bench.as_dict(include_data=False))
        except Exception:
            continue
    return out


def ran_any(bs: Any) -> bool:
    """Whether any benchmark ran in this session (else pytest-benchmark saves nothing)."""
    return bool(getattr(bs, "benchmarks", None))


def compared_entries(bs: Any) -> dict[Any, dict[str, dict[str, Any]]]:
    """pytest-benchmark's ``{saved file: {fullname: saved entry}}`` of ``--benchmark-compare``;
    entries removed from it are left out of its comparison and ``--benchmark-compare-fail``."""
    mapping = getattr(bs, "compared_mapping", None)
    return mapping if isinstance(mapping, dict) else {}


def reload_compared(bs: Any, path: str) -> None:
    """Compare with the saved run at ``path`` instead of the one loaded when pytest was
    configured: pytest-benchmark loads ``compared_mapping`` in its ``handle_loading``,
    which reads ``compare`` (a name or a path, as ``--benchmark-compare=`` takes)."""
    bs.compare = path
    bs.handle_loading()
