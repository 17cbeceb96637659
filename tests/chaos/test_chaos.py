"""The short fault-injection suite: every scenario kind once, with short outages, on its own
broker, PostgreSQL and services (the faults restart them, so the session's backends are not
used), with the consumers on their default runtime (plain aiokafka); then the process faults
again with every topic on the faust runtime, so both adapters under the one wrapper are shown
to hold. ``make chaos`` runs the full suite; docs/reliability.md explains both."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.cluster import Runtime
from chaos.runner import Options, run
from chaos.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e

# The faust runtime loses records when a log starts again from offset 0 (the embedded broker
# after a restart; docs/runtimes.md), which is why it is not the default: the broker restart is
# left out of its run. The process faults are where a runtime's commits are tested.
FAUST_SCENARIOS = ["kill9", "kill9-mid-batch", "rebalance", "sigterm"]


@pytest.mark.timeout(420)
@pytest.mark.parametrize(
    ("runtime", "scenarios"), [("aiokafka", list(SCENARIOS)), ("faust", FAUST_SCENARIOS)]
)
async def test_short_chaos_suite_loses_and_doubles_nothing(
    tmp_path: Path, runtime: Runtime, scenarios: list[str]
) -> None:
    lines: list[str] = []
    options = Options(scenarios=scenarios, trials=1, short=True, keep=tmp_path, runtime=runtime)
    report = await run(options, lines.append, tmp_path / "history.jsonl")
    report.write_json(tmp_path / "results.json")
    story = "\n".join(lines) + "\n\n" + report.table() + "\n\n" + report.problems()
    assert {t.scenario for t in report.trials} == set(scenarios), story
    assert all(t.events > 0 for t in report.trials), story
    for trial in report.trials:
        assert trial.lost == [], story
        assert trial.doubled == [], story
        assert trial.disorder == [], story
        assert trial.poison_missing == [], story
        assert trial.failures == [], story
        assert trial.recovery_s is not None, story
    assert report.ok, story
