"""``make bench`` stays runnable: the harness and every benchmark at tiny sizes (``--quick``).

No timing is asserted (this machine's speed is not under test); the shape of the JSON is, and
that what was measured is a positive number.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import BENCHES, summary_table

ROOT = Path(__file__).resolve().parents[2]
# Zero is a fair reading for these: counts of failures, and CPU time (the kernel counts it in
# 10 ms ticks, which a --quick run may not fill).
MAY_BE_ZERO = ("errors", "CPU")


def _check_metric(bench: str, metric: dict[str, Any]) -> None:
    name = metric["name"]
    assert metric["onramp"], f"{bench}: {name} has no runs"
    values = list(metric["onramp"]) + list(metric["baseline"] or [])
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in values), (bench, name)
    if any(word in name for word in MAY_BE_ZERO):
        assert all(v >= 0 for v in values), (bench, name, values)
    else:
        assert all(v > 0 for v in values), (bench, name, values)
    assert metric["onramp_median"] == pytest.approx(statistics.median(metric["onramp"]))
    if metric["baseline_median"]:
        assert metric["ratio"] == pytest.approx(metric["onramp_median"] / metric["baseline_median"])
    else:  # no baseline, or one that counted nothing (errors)
        assert metric["ratio"] is None
    assert metric["met"] in (True, False, None)


@pytest.mark.timeout(240)
def test_every_bench_runs_quick_and_writes_its_result(tmp_path: Path) -> None:
    done = subprocess.run(
        # Side by side: the figures do not matter here, only that every bench completes.
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--jobs",
            str(len(BENCHES)),
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [e["bench"] for e in summary["benches"]] == list(BENCHES)
    failed = {e["bench"]: e.get("error") for e in summary["benches"] if e["status"] != "ok"}
    assert not failed, f"{failed}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0
    for entry in summary["benches"]:
        result = entry["result"]
        written = json.loads((tmp_path / f"{entry['bench']}.json").read_text())
        assert written == result
        assert {"bench", "title", "command", "baseline", "metrics", "details"} <= set(result)
        assert result["metrics"], entry["bench"]
        for metric in result["metrics"]:
            _check_metric(entry["bench"], metric)
    assert "ratio" in done.stdout.rsplit("===", 1)[-1]  # the summary table was printed


def test_a_failed_bench_shows_in_the_summary() -> None:
    entries = [{"bench": "latency", "status": "failed", "error": "exit code 1, JSON: False"}]
    table = summary_table(entries)
    [row] = table.splitlines()[1:]
    assert row.split()[:2] == ["latency", "FAILED"]
    assert "exit code 1" in row
