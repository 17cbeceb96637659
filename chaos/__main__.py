"""``python -m chaos [--short] [--scenario NAME ...] [--trials N] [--json PATH]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from chaos.report import DEFAULT_JSON
from chaos.runner import Options, run
from chaos.scenarios import SCENARIOS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="1 trial each, short outages")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default: all"
    )
    parser.add_argument("--trials", type=int, help="trials per scenario (3; 1 with --short)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON}")
    parser.add_argument("--keep", type=Path, help="keep logs and data in this folder")
    parser.add_argument(
        "--runtime",
        choices=("aiokafka", "faust"),
        default="aiokafka",
        help="consumer runtime of every topic (default aiokafka, the services' default)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # outages are the point here
    options = Options(
        scenarios=args.scenario or list(SCENARIOS),
        trials=args.trials or (1 if args.short else 3),
        short=args.short,
        keep=args.keep,
        runtime=args.runtime,
    )
    history = args.json.with_name("history.jsonl")
    report = asyncio.run(run(options, lambda line: print(line, flush=True), history))
    print()
    print(report.table())
    if not report.ok:
        print("\n" + report.problems())
    report.write_json(args.json)
    print(f"\nJSON: {args.json}; history: {history}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
