"""The result: one row per scenario (trials, events, lost, doubled, recovery) and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_JSON = Path(".onramp/chaos/results.json")


@dataclass
class TrialResult:
    scenario: str
    trial: str
    events: int
    lost: list[str]
    doubled: list[str]
    disorder: list[str]
    poison_missing: list[str]
    failures: list[str]
    notes: list[str]
    recovery_s: float | None
    seconds: float

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.doubled
            or self.disorder
            or self.poison_missing
            or self.failures
            or self.recovery_s is None
        )


@dataclass
class Report:
    trials: list[TrialResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.trials) and all(t.ok for t in self.trials)

    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for name in dict.fromkeys(t.scenario for t in self.trials):
            mine = [t for t in self.trials if t.scenario == name]
            recoveries = [t.recovery_s for t in mine if t.recovery_s is not None]
            rows.append(
                {
                    "scenario": name,
                    "trials": len(mine),
                    "events": sum(t.events for t in mine),
                    "lost": sum(len(t.lost) for t in mine),
                    "doubled": sum(len(t.doubled) for t in mine),
                    "order": "held" if not any(t.disorder for t in mine) else "BROKEN",
                    "dlt": "ok" if not any(t.poison_missing for t in mine) else "MISSING",
                    "recovery_max_s": max(recoveries) if len(recoveries) == len(mine) else None,
                    "result": "pass" if all(t.ok for t in mine) else "FAIL",
                }
            )
        return rows

    def table(self) -> str:
        head = ("scenario", "trials", "events", "lost", "doubled", "order", "dlt", "recovery", "")
        lines = [head]
        for row in self.rows():
            recovery = row["recovery_max_s"]
            lines.append(
                (
                    row["scenario"],
                    str(row["trials"]),
                    str(row["events"]),
                    str(row["lost"]),
                    str(row["doubled"]),
                    row["order"],
                    row["dlt"],
                    f"{recovery:.1f} s" if recovery is not None else "never",
                    row["result"],
                )
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
        text = [
            "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
            for line in lines
        ]
        text.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
        return "\n".join(text)

    def problems(self) -> str:
        out: list[str] = []
        for t in self.trials:
            if t.ok:
                continue
            found = t.failures + t.lost + t.doubled + t.disorder + t.poison_missing
            if t.recovery_s is None:
                found.append("did not recover")
            out.append(f"{t.scenario} [{t.trial}]: " + "; ".join(found[:8]))
        return "\n".join(out)

    def write_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "ok": self.ok,
            "scenarios": self.rows(),
            "trials": [asdict(t) for t in self.trials],
        }
        path.write_text(json.dumps(body, indent=2) + "\n")
