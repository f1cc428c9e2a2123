"""``python -m accelbench sysinfo``: the machine facts a run records, for a person."""

from __future__ import annotations

import argparse
import json
import sys

from accelbench import environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m accelbench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sysinfo = commands.add_parser("sysinfo", help="print chip, OS, GPU and framework facts")
    sysinfo.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    if args.command == "sysinfo":
        info = environment.collect()
        print(
            json.dumps(info, indent=2, default=str) if args.json else environment.format_info(info)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
