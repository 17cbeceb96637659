"""The short fault-injection suite: every scenario kind once, with short outages, on its own
broker, PostgreSQL and services (the faults restart them, so the session's backends are not
used). ``make chaos`` runs the full suite; docs/reliability.md explains both."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.runner import Options, run
from chaos.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(420)
async def test_short_chaos_suite_loses_and_doubles_nothing(tmp_path: Path) -> None:
    lines: list[str] = []
    options = Options(scenarios=list(SCENARIOS), trials=1, short=True, keep=tmp_path)
    report = await run(options, lines.append, tmp_path / "history.jsonl")
    report.write_json(tmp_path / "results.json")
    story = "\n".join(lines) + "\n\n" + report.table() + "\n\n" + report.problems()
    assert {t.scenario for t in report.trials} == set(SCENARIOS), story
    assert all(t.events > 0 for t in report.trials), story
    for trial in report.trials:
        assert trial.lost == [], story
        assert trial.doubled == [], story
        assert trial.disorder == [], story
        assert trial.poison_missing == [], story
        assert trial.failures == [], story
        assert trial.recovery_s is not None, story
    assert report.ok, story
