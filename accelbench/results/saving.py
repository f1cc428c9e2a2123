"""Writing the run: pytest-benchmark's JSON, complete or not at all.

pytest-benchmark (up to 5.2) writes ``--benchmark-json`` through a file that argparse opened
(and emptied) when the command line was read, and its autosave straight into the final name:
a kill, a crash or a full disk leaves an empty or truncated file, and the earlier one is
gone. Here both are written by the suite instead, with the same content (the same
pytest-benchmark hooks build it), through a temporary file renamed into place; then
pytest-benchmark is told there is nothing left to save.

``JsonTarget`` stands in for argparse's open file up to 5.2 (from 5.3 the option is a path):
the path is only remembered when the command line is read, and checked before the first
benchmark runs. How the option is declared is pytest-benchmark's internal business, handled
in ``accelbench.benchmark_internals``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from accelbench import benchmark_internals as internals
from accelbench.results.files import atomic_writer, write_atomic


class JsonTarget:
    """``--benchmark-json PATH`` as the suite reads it: a path, written atomically when the
    run ends (also if pytest-benchmark writes it itself: ``with target as fh``)."""

    def __init__(self, path: str) -> None:
        self.name = path
        self.path = Path(path)
        self._writer: Any = None

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"JsonTarget({self.name!r})"

    def __enter__(self) -> IO[bytes]:
        self._writer = atomic_writer(self.path)
        return self._writer.__enter__()

    def __exit__(self, *exc_info: Any) -> bool | None:
        writer, self._writer = self._writer, None
        return writer.__exit__(*exc_info)


class SaveError(Exception):
    """A file of the run could not be written; the message is one line."""


@dataclass(frozen=True)
class Outcome:
    """Whether the run went to its end: a partial run is saved marked as such."""

    partial: bool = False
    reason: str | None = None


def _output(config: Any, bs: Any, include_data: bool, machine_info: Any, commit_info: Any) -> Any:
    output_json = config.hook.pytest_benchmark_generate_json(
        config=config,
        benchmarks=bs.benchmarks,
        include_data=include_data,
        machine_info=machine_info,
        commit_info=commit_info,
    )
    config.hook.pytest_benchmark_update_json(
        config=config, benchmarks=bs.benchmarks, output_json=output_json
    )
    return output_json


def next_saved_path(storage: Any, name: str) -> Path:
    """The next ``NNNN_name.json`` in pytest-benchmark's file storage, numbered as it does."""
    numbers = [
        int(f.name[:4]) for f in storage.query("[0-9][0-9][0-9][0-9]_*") if f.name[:4].isdigit()
    ]
    return Path(storage.get(f"{max(numbers, default=0) + 1:04d}_{name}.json"))


def _write(path: Path, data: bytes) -> None:
    try:
        write_atomic(path, data)
    except OSError as exc:
        earlier = "the earlier file is unchanged" if path.exists() else "nothing was written"
        raise SaveError(f"could not write {path}: {exc.strerror or exc}; {earlier}") from None


def save_run(config: Any, bs: Any) -> tuple[list[Path], list[str]]:
    """Write what pytest-benchmark would (``--benchmark-json``, ``--benchmark-save`` /
    ``--benchmark-autosave`` into a file storage), atomically, and clear those options on
    its session so that it writes nothing itself. Returns the files written, and one line
    per file that could not be (the others are still written)."""
    save = bs.save or bs.autosave
    file_storage = internals.is_file_storage(bs.storage)
    if not (bs.json or (save and file_storage)) or not bs.benchmarks:
        return [], []  # nothing to write, or pytest-benchmark's own warning that nothing ran
    machine_info = bs.get_machine_info()
    commit_info = config.hook.pytest_benchmark_generate_commit_info(config=config)
    config.hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit_info)
    written: list[Path] = []
    errors: list[str] = []
    target = internals.json_option_path(bs.json)
    if target is not None:  # else not a file we know: left to pytest-benchmark
        internals.release_json(bs)
        try:
            _write(target, internals.dumps(_output(config, bs, True, machine_info, commit_info)))
            bs.logger.info(f"Wrote benchmark data in: {target}", purple=True)
            written.append(target)
        except SaveError as exc:
            errors.append(str(exc))
    if save and file_storage:
        internals.release_saving(bs)
        output = _output(config, bs, bs.save_data, machine_info, commit_info)
        try:
            try:
                path = next_saved_path(bs.storage, save)
            except OSError as exc:
                raise SaveError(
                    f"could not save into {bs.storage}: {exc.strerror or exc}"
                ) from None
            _write(path, internals.dumps(output))
            written.append(path)
        except SaveError as exc:
            errors.append(str(exc))
    return written, errors
