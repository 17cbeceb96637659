"""Runs the scenarios against one cluster: for each trial, start a load, inject, measure the
recovery, finish the load, drain and check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from chaos.checker import Checker
from chaos.cluster import Cluster, Runtime, until
from chaos.faults import Context, Fault
from chaos.history import History, Observer
from chaos.load import Load, setup_world
from chaos.report import Report, TrialResult
from chaos.scenarios import SCENARIOS

log = logging.getLogger("chaos")


@dataclass(frozen=True)
class Options:
    scenarios: Sequence[str]
    trials: int
    short: bool
    keep: Path | None = None  # where to keep logs and data; a temporary folder otherwise
    runtime: Runtime = "aiokafka"  # the consumer runtime every subscribed topic runs on

    @property
    def tick_s(self) -> float:
        return 0.25

    @property
    def check_timeout_s(self) -> float:
        return 45.0 if self.short else 120.0

    @property
    def recovery_timeout_s(self) -> float:
        return 60.0 if self.short else 120.0


class Run:
    def __init__(self, cluster: Cluster, options: Options, say: Callable[[str], None]) -> None:
        self.cluster = cluster
        self.options = options
        self.history = History()
        self.checker = Checker(cluster, self.history)
        self.observer = Observer(self.history, cluster.bootstrap)
        self.say = say

    async def restart_observer(self) -> None:
        await self.observer.stop()
        self.observer = Observer(self.history, self.cluster.bootstrap)
        await self.observer.start()

    async def trial(self, name: str, trial_no: int) -> TrialResult:
        scenario = SCENARIOS[name]
        trial = f"{name}-{trial_no}-{uuid.uuid4().hex[:4]}"
        began = time.monotonic()
        load = Load(self.cluster, self.history, trial, self.options.tick_s)
        await load.start_rollout()
        load.start()

        async def drain() -> list[str]:
            verdict = await self.checker.check(trial, timeout=self.options.check_timeout_s)
            return verdict.lost + verdict.poison_missing

        ctx = Context(
            self.cluster,
            self.history,
            load,
            self.options.short,
            trial_no,
            self.restart_observer,
            self.observer_stop,
            drain,
        )
        try:
            fault = await scenario.inject(ctx)
        except Exception as exc:
            log.exception("scenario %s failed", name)
            fault = Fault(cleared_at=time.monotonic(), failures=[f"injection failed: {exc!r}"])
        recovery = await self.recovery(load, fault)
        await load.wait_ticks(4)
        await load.finish(timeout=60)
        verdict = await self.checker.check(trial, timeout=self.options.check_timeout_s)
        if not verdict.ok:
            with contextlib.suppress(Exception):  # best effort: evidence for the notes
                verdict.notes += await self.cluster.group_positions(
                    ["onramp-notify", "onramp-rollout", "onramp-feedback"],
                    ["onramp.feedback", "onramp.rollout", "onramp.feedback.intake"],
                )
        result = TrialResult(
            scenario=name,
            trial=trial,
            events=verdict.events,
            lost=verdict.lost,
            doubled=verdict.doubled,
            disorder=verdict.disorder,
            poison_missing=verdict.poison_missing,
            failures=fault.failures,
            notes=fault.notes + verdict.notes,
            recovery_s=recovery,
            seconds=time.monotonic() - began,
        )
        state = "ok" if result.ok else "FAILED"
        self.say(
            f"{trial}: {state}; {result.events} events, lost {len(result.lost)}, doubled "
            f"{len(result.doubled)}, recovery {_seconds(recovery)}, took {result.seconds:.0f} s; "
            + "; ".join(result.notes)
        )
        return result

    async def observer_stop(self) -> None:
        await self.observer.stop()

    async def recovery(self, load: Load, fault: Fault) -> float | None:
        """From the fault cleared to every service ready and a probe flowing end to end: an
        event from outside applied by rollout and notify, and an issue over HTTP stored,
        published, and applied by rollout and notify."""
        timeout = self.options.recovery_timeout_s
        try:
            await self.cluster.wait_ready(timeout=timeout)
            training = load.send_training()
            issue = await load.probe_issue(timeout)
            conn = await asyncpg.connect(self.cluster.database_url)
            try:

                async def flowed() -> bool:
                    found = await conn.fetchval(
                        """SELECT (SELECT count(*) FROM rollout.completions
                                   WHERE staff_id = $1 AND course_id = $2)
                                + (SELECT count(*) FROM notify.training
                                   WHERE staff_id = $1 AND course_id = $2)
                                + (SELECT count(*) FROM rollout.issues WHERE feedback_id = $3)
                                + (SELECT count(*) FROM notify.feedback WHERE feedback_id = $3)""",
                        training.facts["staff_id"],
                        training.facts["course"],
                        issue.ident,
                    )
                    return bool(found == 4)

                await until(flowed, timeout, "work flowing again", interval=0.05)
            finally:
                await conn.close()
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            fault.failures.append(f"no recovery: {exc}")
            return None
        return time.monotonic() - fault.cleared_at


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


async def run(
    options: Options, say: Callable[[str], None] = print, history_path: Path | None = None
) -> Report:
    report = Report()
    with contextlib.ExitStack() as stack:
        if options.keep is not None:
            folder = options.keep
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="onramp-chaos-")))
        cluster = Cluster(folder, runtime=options.runtime)
        try:
            started = time.monotonic()
            await cluster.start()
            run_ = Run(cluster, options, say)
            try:
                await run_.observer.start()
                await setup_world(cluster, run_.history)
                say(
                    f"cluster up in {time.monotonic() - started:.1f} s, consumers on "
                    f"{options.runtime} (logs in {folder})"
                )
                for name in options.scenarios:
                    for trial_no in range(options.trials):
                        report.trials.append(await run_.trial(name, trial_no))
            finally:
                await run_.observer.stop()
                if history_path is not None:
                    run_.history.dump(history_path)
        finally:
            await asyncio.to_thread(cluster.stop)
    return report
