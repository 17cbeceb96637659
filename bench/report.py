"""One shape for every benchmark's result: a table on the terminal and a JSON file.

Each benchmark measures Onramp and a baseline in the same run, on the same broker and database,
several times, and reports medians. ``ratio`` is always Onramp's median over the baseline's, so
for throughput higher is better and for latency lower is better (``higher_is_better`` says which).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(".onramp") / "bench"


@dataclass(frozen=True)
class Metric:
    """One measured quantity, Onramp against its baseline, over several runs."""

    name: str  # "events/s", "p99 ms", ...
    onramp: Sequence[float]  # one value per run
    baseline: Sequence[float] | None  # one value per run, or None where no baseline applies
    higher_is_better: bool
    goal: str | None = None  # human-readable, e.g. "ratio >= 0.5" or "p99 < 100 ms"
    met: bool | None = None  # whether the goal is met (None: no goal)

    @property
    def onramp_median(self) -> float:
        return float(statistics.median(self.onramp))

    @property
    def baseline_median(self) -> float | None:
        return float(statistics.median(self.baseline)) if self.baseline else None

    @property
    def ratio(self) -> float | None:
        base = self.baseline_median
        return self.onramp_median / base if base else None

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "onramp": list(self.onramp),
            "baseline": list(self.baseline) if self.baseline is not None else None,
            "onramp_median": self.onramp_median,
            "baseline_median": self.baseline_median,
            "ratio": self.ratio,
        }


@dataclass(frozen=True)
class Result:
    bench: str  # short name, also the JSON file's name
    title: str
    command: str  # how to run it again
    baseline: str  # what the baseline is
    metrics: Sequence[Metric]
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "title": self.title,
            "command": self.command,
            "baseline": self.baseline,
            "metrics": [metric.as_json() for metric in self.metrics],
            "details": dict(self.details),
        }


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def table(result: Result) -> str:
    header = ("metric", "onramp", "baseline", "ratio", "goal", "met", "runs")
    rows = [
        (
            metric.name,
            _fmt(metric.onramp_median),
            _fmt(metric.baseline_median),
            f"{metric.ratio:.2f}" if metric.ratio is not None else "-",
            metric.goal or "-",
            {True: "yes", False: "NO", None: "-"}[metric.met],
            str(len(metric.onramp)),
        )
        for metric in result.metrics
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [f"{result.title}  (baseline: {result.baseline})"]
    for row in (header, *rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return "\n".join(lines)


def emit(result: Result, json_path: Path | None = None) -> Path:
    """Print the table and write the JSON (default ``.onramp/bench/<bench>.json``)."""
    path = json_path or RESULTS_DIR / f"{result.bench}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    print(table(result), file=sys.stdout, flush=True)
    print(f"→ {path}", file=sys.stdout, flush=True)
    return path
