"""``python -m bench`` (``make bench``): every benchmark, one after the other, then a summary.

Each benchmark runs in a subprocess of its own (``python -m bench.<name> --json PATH``) that
starts its own embedded broker and database, so one bench's leftovers cannot skew the next and
a crash stays contained. The summary table lists every metric of every bench against its
baseline; ``.onramp/bench/summary.json`` holds the same. A bench that fails (non-zero exit, no
JSON) shows as failed and makes the exit code non-zero; the others still run.

    python -m bench [--only NAME ...] [--quick] [--runs N] [--out DIR] [--jobs N]

``--jobs`` runs that many benches at once: only for checking that they work (``--quick``), as
benches running side by side measure each other.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.report import RESULTS_DIR

BENCHES = ("ingest", "latency", "feedback_throughput", "timers", "memory")
TIMEOUT_S = 3600.0


def run_one(name: str, out: Path, *, quick: bool, runs: int | None) -> dict[str, Any]:
    path = out / f"{name}.json"
    path.unlink(missing_ok=True)
    argv = [sys.executable, "-m", f"bench.{name}", "--json", str(path)]
    if quick:
        argv.append("--quick")
    if runs is not None:
        argv += ["--runs", str(runs)]
    print(f"\n=== bench.{name}: {' '.join(argv[1:])}", flush=True)
    started = time.monotonic()
    try:
        code = subprocess.run(argv, timeout=TIMEOUT_S, check=False).returncode
    except subprocess.TimeoutExpired:
        code = -1
    entry: dict[str, Any] = {
        "bench": name,
        "returncode": code,
        "seconds": round(time.monotonic() - started, 1),
    }
    if code == 0 and path.exists():
        entry["status"] = "ok"
        entry["result"] = json.loads(path.read_text())
    else:
        entry["status"] = "failed"
        entry["error"] = "timed out" if code == -1 else f"exit code {code}, JSON: {path.exists()}"
    return entry


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def summary_rows(entries: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for entry in entries:
        if entry["status"] != "ok":
            rows.append((entry["bench"], "FAILED", "-", "-", "-", entry["error"], "NO"))
            continue
        for metric in entry["result"]["metrics"]:
            ratio = metric["ratio"]
            rows.append(
                (
                    entry["bench"],
                    metric["name"],
                    _fmt(metric["onramp_median"]),
                    _fmt(metric["baseline_median"]),
                    f"{ratio:.2f}" if ratio is not None else "-",
                    metric["goal"] or "-",
                    {True: "yes", False: "NO", None: "-"}[metric["met"]],
                )
            )
    return rows


def summary_table(entries: Sequence[dict[str, Any]]) -> str:
    header = ("bench", "metric", "onramp", "baseline", "ratio", "goal", "met")
    rows = summary_rows(entries)
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in (header, *rows)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", nargs="+", choices=BENCHES, help="run only these benches")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benches work")
    parser.add_argument("--runs", type=int, default=None, help="runs per bench (default: its own)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    parser.add_argument("--jobs", type=int, default=1, help="benches at once (checks only)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = [name for name in BENCHES if not args.only or name in args.only]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        entries = list(
            pool.map(lambda name: run_one(name, args.out, quick=args.quick, runs=args.runs), names)
        )
    failed = [e["bench"] for e in entries if e["status"] != "ok"]
    summary = {"quick": args.quick, "benches": entries, "failed": failed}
    path = args.out / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    print("\n" + summary_table(entries), flush=True)
    print(f"→ {path}", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
