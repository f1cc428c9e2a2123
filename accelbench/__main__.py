"""accelbench (or python -m accelbench): the benchmarks, machine facts, reports, comparisons.

  run [PYTEST OPTIONS]           the benchmarks from any folder (as pytest benchmarks ...)
  sysinfo                        the chip, OS, GPU and framework facts a run records
  report [RUN ...] [--out DIR]   saved runs -> Markdown, PNG plots and one HTML page
  compare BASELINE CURRENT       change per benchmark; --fail-on regression gates CI
  export RUN --format FORMAT     github-action-benchmark, bencher, csv, llama-bench(-md)

Exit codes: 0 done, 1 a regression (with --fail-on regression), 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from accelbench.results.runs import DEFAULT_STORAGE, RunError

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse with a usage error as one line (and exit 2), not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _threshold(text: str) -> float:
    from accelbench.results.compare import parse_threshold

    try:
        return parse_threshold(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> Parser:
    parser = Parser(
        prog="accelbench",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[2:]),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "run",
        help="run the benchmarks; every option after 'run' goes to pytest (see: accelbench "
        "run --help)",
        add_help=False,
    )
    sysinfo = commands.add_parser("sysinfo", help="print chip, OS, GPU and framework facts")
    sysinfo.add_argument("--json", action="store_true", help="print JSON instead of text")

    report = commands.add_parser(
        "report",
        help="turn saved runs into a Markdown report, PNG plots and an HTML page",
        description="Turn saved runs into report.md, report.html (plots embedded) and PNGs. "
        "Several runs (e.g. one per machine) also get a table and a plot side by side.",
    )
    report.add_argument(
        "runs",
        nargs="*",
        metavar="RUN",
        help="a saved run (pytest-benchmark JSON) or a folder searched for them recursively. "
        "Default: the newest run under --storage",
    )
    report.add_argument(
        "--out", default="reports", metavar="DIR", help="folder to write into. Default: %(default)r"
    )
    report.add_argument(
        "--storage",
        default=DEFAULT_STORAGE,
        metavar="DIR",
        help="pytest-benchmark's storage, searched when no RUN is given. Default: %(default)r",
    )

    compare = commands.add_parser(
        "compare",
        help="change per benchmark between two saved runs, with a noise-aware verdict",
        description="Match benchmarks by fullname; a regression is a median slower by more "
        "than the threshold whose interquartile range does not overlap the baseline's.",
    )
    compare.add_argument("baseline", metavar="BASELINE", help="the saved run to compare with")
    compare.add_argument("current", metavar="CURRENT", help="the saved run to judge")
    compare.add_argument(
        "--threshold",
        type=_threshold,
        default="15%",
        metavar="PCT",
        help="smallest change of the median that counts, in percent. Default: %(default)r",
    )
    compare.add_argument(
        "--fail-on",
        choices=["regression"],
        default=None,
        help="exit 1 when any benchmark regressed. Default: never fail",
    )
    compare.add_argument(
        "--gate-smoke",
        action="store_true",
        help="judge smoke-size cases too (their steps are too short for a shared machine). "
        "Default: smoke-size cases are 'not gated'",
    )

    from accelbench.results.export import FORMATS

    export = commands.add_parser(
        "export",
        help="a saved run for benchmark trackers: github-action-benchmark, bencher, csv; the "
        "language model as llama-bench's JSONL or table",
        description="Write a saved run's median throughput per benchmark, named by its whole "
        "identity (framework, workload, variant, phase, device, dtype, size, mode), as "
        "github-action-benchmark's customBiggerIsBetter JSON, Bencher's BMF JSON or CSV; or "
        "its language-model cases as llama-bench's -o jsonl lines (llama-bench) or its "
        "Markdown table (llama-bench-md).",
    )
    export.add_argument("run", metavar="RUN", help="the saved run (pytest-benchmark JSON)")
    export.add_argument("--format", required=True, choices=FORMATS, help="the output format")
    export.add_argument(
        "--out", metavar="FILE", default=None, help="write into FILE. Default: standard output"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (usage errors and --help included)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        from accelbench import suite_run

        return suite_run.main(argv[1:])
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed its one line (or the help)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except RunError as exc:
        print(f"accelbench {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def say(text: str) -> None:
    """Print ``text`` and flush it now: a full disk or a closed pipe is a RunError (one
    line), not a traceback when the interpreter flushes standard output at exit."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except OSError as exc:
        _silence_stdout()
        raise RunError(f"cannot write to standard output: {exc.strerror or exc}") from None


def _silence_stdout() -> None:
    """Standard output onto the null device, so the final flush of its buffer cannot fail."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def _sysinfo(args: argparse.Namespace) -> int:
    from accelbench import backends
    from accelbench.core import machine

    info = machine.collect(backends)
    say(json.dumps(info, indent=2, default=str) if args.json else machine.format_info(info))
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from accelbench.report import build as report
    from accelbench.results import runs

    if args.runs:
        found, skipped = runs.find_runs(args.runs)
    else:
        found, skipped = [runs.newest_run(args.storage)], []
    for line in skipped:
        print(f"accelbench report: {line}", file=sys.stderr)
    files = report.write_report(found, args.out, notes=skipped)
    say(f"wrote {files.markdown}, {files.html} and {len(files.images)} plots in {args.out}")
    return EXIT_OK


def _say_first(result: Any, verdict: str, describe: Callable[[Any], str]) -> None:
    """One line on standard error: how many changes got ``verdict``, the first described."""
    found = [c for c in result.changes if c.verdict == verdict]
    if found:
        print(f"accelbench compare: {len(found)} {describe(found[0])}", file=sys.stderr)


def _compare(args: argparse.Namespace) -> int:
    from accelbench.results import compare, runs

    baseline, current = runs.load_run(args.baseline), runs.load_run(args.current)
    result = compare.compare_runs(baseline, current, args.threshold, args.gate_smoke)
    say(compare.render(result, baseline, current))
    _say_first(
        result, compare.UNSTABLE, lambda c: f"unstable, never a verdict: {c.name} ({c.note})"
    )
    _say_first(
        result,
        compare.UNRELIABLE,
        lambda c: f"change(s) unreliable, not counted as regressions: {c.note}",
    )
    if args.fail_on == "regression" and result.regressions:
        names = ", ".join(c.name for c in result.regressions)
        print(
            f"accelbench compare: {len(result.regressions)} regression(s): {names}", file=sys.stderr
        )
        return EXIT_REGRESSION
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from accelbench.results import export, files, runs

    run = runs.load_run(args.run)
    if run.partial:
        print(f"accelbench export: note: {run.path} is a {run.status}", file=sys.stderr)
    data = export.export(run, args.format)
    if args.out is None:
        say(data.removesuffix("\n"))
        return EXIT_OK
    out = Path(args.out)
    problem = files.output_file_problem(out)
    if problem:
        raise RunError(f"--out {out}: {problem}")
    try:
        files.write_atomic(out, data.encode("utf-8"))
    except OSError as exc:
        raise RunError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    say(f"wrote {out} ({args.format}, {len(run.records)} benchmarks)")
    return EXIT_OK


COMMANDS = {"sysinfo": _sysinfo, "report": _report, "compare": _compare, "export": _export}


def entry() -> None:
    """The ``accelbench`` command."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
