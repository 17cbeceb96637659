"""The checker: after a drain, compares one trial's history with the effects in the services'
tables (read-only) and on the topics.

What counts as the effect of each input (each read from the services' own tables):
- staff upserted → a row in rollout.staff and notify.staff, and the directory inbox claim of
  each of the three consumers (feedback, rollout, notify);
- training completed → a row in rollout.completions and notify.training;
- survey answer on the intake topic → one feedback row (its tool's source and id), exactly one
  ``feedback.submitted`` event id for it on onramp.feedback, a row in rollout.survey_answers;
- feedback over HTTP (201) → the feedback row, exactly one ``feedback.submitted`` event id on
  onramp.feedback; an issue also a row in rollout.issues and notify.feedback, and a high or
  critical one exactly one escalation case in notify with one ``issue.reported`` inbox
  notification per IT support person (and its e-mail handed to the SMTP server);
- an advance (200) → exactly one ``rollout.stage_advanced`` event id for that stage on
  onramp.rollout and an inbox notification from it for every member of the new cohort;
- a poison record → a copy in ``<topic>.dlt`` from every consumer of the topic, with the
  expected ``onramp.dlt.kind`` and every reason header.
Republished copies of the same event id (the outbox publishes at least once) are not doubles;
two different event ids for one input are.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from chaos.cluster import Cluster
from chaos.history import History, Input, Observed
from chaos.records import SUPPORT, SURVEY_SOURCE, cohort, support_email
from shared.events import topics

# The reasons DESIGN promises on a dead letter, written out here rather than taken from
# shared.consumer: the checker judges the implementation and must not learn from it.
DLT_HEADERS = (
    "onramp.dlt.topic",
    "onramp.dlt.partition",
    "onramp.dlt.offset",
    "onramp.dlt.consumer",
    "onramp.dlt.kind",
    "onramp.dlt.message",
    "onramp.dlt.attempts",
    "onramp.dlt.time",
)
CONSUMERS = {
    topics.DIRECTORY: ("feedback", "rollout", "notify"),
    topics.TRAINING: ("rollout", "notify"),
    topics.FEEDBACK_INTAKE: ("feedback",),
}
SUBMITTED = b"onramp.feedback.submitted.v1"
ADVANCED = b"onramp.rollout.stage_advanced.v1"


@dataclass
class Verdict:
    events: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    disorder: list[str] = field(default_factory=list)
    poison_missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.disorder or self.poison_missing)


def _event_ids(observed: list[Observed], topic: str, ce_type: bytes) -> dict[str, set[str]]:
    """data.feedback_id (or rollout:stage) → the distinct CloudEvents ids seen on ``topic``."""
    found: dict[str, set[str]] = defaultdict(set)
    for o in observed:
        if o.topic != topic or o.headers.get("ce_type") != ce_type or not isinstance(o.data, dict):
            continue
        ce_id = o.headers.get("ce_id", b"").decode()
        if ce_type == SUBMITTED:
            found[str(o.data.get("feedback_id"))].add(ce_id)
        else:
            found[f"{o.data.get('rollout_id')}:{o.data.get('to_stage')}"].add(ce_id)
    return found


async def _set(conn: asyncpg.Connection[Any], sql: str, *args: Any) -> set[Any]:
    return {tuple(r) if len(r) > 1 else r[0] for r in await conn.fetch(sql, *args)}


class Checker:
    def __init__(self, cluster: Cluster, history: History) -> None:
        self.cluster = cluster
        self.history = history

    async def check(self, trial: str, *, timeout: float) -> Verdict:
        """Poll until every accepted input shows its effect or ``timeout``; then a quiet second
        more (to see late doubles), and the verdict."""
        deadline = time.monotonic() + timeout
        verdict = await self._once(trial)
        while verdict.lost or verdict.poison_missing:
            if time.monotonic() > deadline:
                return verdict
            await _pause(0.5)
            verdict = await self._once(trial)
        await _pause(1.0)
        return await self._once(trial)

    async def _once(self, trial: str) -> Verdict:
        conn = await asyncpg.connect(self.cluster.database_url)
        try:
            await conn.execute("SET default_transaction_read_only = on")
            return await self._verdict(conn, trial)
        finally:
            await conn.close()

    async def _verdict(self, conn: asyncpg.Connection[Any], trial: str) -> Verdict:
        inputs = [i for i in self.history.of(trial) if i.accepted]
        verdict = Verdict(events=len(inputs))
        observed = list(self.history.observed)
        submitted = _event_ids(observed, topics.FEEDBACK, SUBMITTED)
        advanced = _event_ids(observed, topics.ROLLOUT, ADVANCED)
        by_kind: dict[str, list[Input]] = defaultdict(list)
        for item in inputs:
            by_kind[item.kind].append(item)
        await self._staff(conn, by_kind["staff"], verdict)
        await self._training(conn, by_kind["training"], verdict)
        await self._surveys(conn, by_kind["survey"], submitted, verdict)
        await self._http_feedback(conn, by_kind["issue"] + by_kind["comment"], submitted, verdict)
        await self._advances(conn, by_kind["advance"], advanced, verdict)
        self._order(observed, trial, verdict)
        self._poison(observed, by_kind["poison"], verdict)
        return verdict

    async def _staff(self, conn: Any, items: list[Input], verdict: Verdict) -> None:
        ids = [i.ident for i in items]
        where = {i.ident: i.facts.get("partition") for i in items}
        for schema in ("rollout", "notify"):
            have = await _set(
                conn, f"SELECT staff_id FROM {schema}.staff WHERE staff_id = ANY($1)", ids
            )
            verdict.lost += [
                f"staff {s} (partition {where[s]}) not in {schema}.staff"
                for s in ids
                if s not in have
            ]
        events = [i.event_id for i in items]
        for schema in ("feedback", "rollout", "notify"):
            claimed = await _set(
                conn,
                f"SELECT event_id FROM {schema}.inbox WHERE consumer = $1 AND event_id = ANY($2)",
                f"{schema}.{topics.DIRECTORY}",
                events,
            )
            verdict.lost += [
                f"staff event {e} not claimed by {schema}" for e in events if e not in claimed
            ]

    async def _training(self, conn: Any, items: list[Input], verdict: Verdict) -> None:
        staff = [i.facts["staff_id"] for i in items]
        for table in ("rollout.completions", "notify.training"):
            have = await _set(
                conn, f"SELECT staff_id, course_id FROM {table} WHERE staff_id = ANY($1)", staff
            )
            verdict.lost += [
                f"training {i.ident} not in {table}"
                for i in items
                if (i.facts["staff_id"], i.facts["course"]) not in have
            ]

    async def _surveys(
        self, conn: Any, items: list[Input], submitted: dict[str, set[str]], verdict: Verdict
    ) -> None:
        rows = await conn.fetch(
            "SELECT external_id, feedback_id::text AS id FROM feedback.feedback "
            "WHERE source = $1 AND external_id = ANY($2)",
            SURVEY_SOURCE,
            [i.ident for i in items],
        )
        ids = {r["external_id"]: r["id"] for r in rows}
        answers = await _set(
            conn,
            "SELECT feedback_id FROM rollout.survey_answers WHERE feedback_id = ANY($1)",
            list(ids.values()),
        )
        for item in items:
            fid = ids.get(item.ident)
            if fid is None:
                verdict.lost.append(f"survey {item.ident} not stored by feedback")
                continue
            self._published_once(f"survey {item.ident}", submitted.get(fid, set()), verdict)
            if fid not in answers:
                verdict.lost.append(f"survey {item.ident} not in rollout.survey_answers")

    async def _http_feedback(
        self, conn: Any, items: list[Input], submitted: dict[str, set[str]], verdict: Verdict
    ) -> None:
        ids = [i.ident for i in items]
        stored = await _set(
            conn,
            "SELECT feedback_id::text FROM feedback.feedback WHERE feedback_id::text = ANY($1)",
            ids,
        )
        issues = await _set(
            conn, "SELECT feedback_id FROM rollout.issues WHERE feedback_id = ANY($1)", ids
        )
        notified = await _set(
            conn, "SELECT feedback_id FROM notify.feedback WHERE feedback_id = ANY($1)", ids
        )
        cases = await _set(
            conn,
            "SELECT dedupe_key FROM notify.cases WHERE dedupe_key = ANY($1)",
            [f"issue:{i}" for i in ids],
        )
        alerts = await conn.fetch(
            """SELECT data->>'feedback_id' AS fid, recipient_id, count(*) AS n
               FROM notify.notifications
               WHERE template = 'issue.reported' AND data->>'feedback_id' = ANY($1)
               GROUP BY 1, 2""",
            ids,
        )
        alert_count = {(r["fid"], r["recipient_id"]): r["n"] for r in alerts}
        for item in items:
            what = f"{item.kind} {item.ident}"
            if item.ident not in stored:
                verdict.lost.append(f"{what} (HTTP 201) not stored")
            self._published_once(what, submitted.get(item.ident, set()), verdict)
            if item.kind != "issue":
                continue
            if item.ident not in issues:
                verdict.lost.append(f"{what} not in rollout.issues")
            if item.ident not in notified:
                verdict.lost.append(f"{what} not in notify.feedback")
            if item.facts["severity"] in ("high", "critical"):
                if f"issue:{item.ident}" not in cases:
                    verdict.lost.append(f"{what}: no escalation case in notify")
                for person in SUPPORT:
                    n = alert_count.get((item.ident, person), 0)
                    if n == 0:
                        verdict.lost.append(f"{what}: no issue.reported for {person}")
                    elif n > 1:
                        verdict.doubled.append(f"{what}: {n} issue.reported for {person}")
        await self._emails(conn, verdict)

    async def _emails(self, conn: Any, verdict: Verdict) -> None:
        """E-mails are at least once: each address got at least as many as were marked sent."""
        for person in SUPPORT:
            sent = await conn.fetchval(
                "SELECT count(*) FROM notify.deliveries "
                "WHERE channel = 'email' AND recipient_id = $1 AND status = 'sent'",
                person,
            )
            got = self.cluster.mailbox.count_to(support_email(person))
            if got < sent:
                verdict.lost.append(f"{sent} e-mails to {person} marked sent, {got} arrived")

    async def _advances(
        self, conn: Any, items: list[Input], advanced: dict[str, set[str]], verdict: Verdict
    ) -> None:
        for item in items:
            ids = advanced.get(item.ident, set())
            self._published_once(f"advance {item.ident}", ids, verdict)
            if len(ids) != 1:
                continue
            members = cohort(int(item.facts["stage"]))
            told = await _set(
                conn,
                "SELECT DISTINCT recipient_id FROM notify.notifications "
                "WHERE source_event_id = $1 AND recipient_id = ANY($2)",
                next(iter(ids)),
                members,
            )
            verdict.lost += [
                f"advance {item.ident}: cohort member {m} not notified"
                for m in members
                if m not in told
            ]

    def _published_once(self, what: str, ids: set[str], verdict: Verdict) -> None:
        if not ids:
            verdict.lost.append(f"{what}: its event never reached the topic")
        elif len(ids) > 1:
            verdict.doubled.append(f"{what}: published under {len(ids)} event ids")

    def _order(self, observed: list[Observed], trial: str, verdict: Verdict) -> None:
        """Each rollout's stage_advanced events, in topic order (first copy of each id), have
        strictly increasing stages, all on one partition."""
        rollout_id = f"chaos-{trial}".encode()
        seen: set[str] = set()
        stages: list[int] = []
        partitions: set[int] = set()
        for o in observed:
            if o.topic != topics.ROLLOUT or o.key != rollout_id:
                continue
            partitions.add(o.partition)
            ce_id = o.headers.get("ce_id", b"").decode()
            if (
                o.headers.get("ce_type") != ADVANCED
                or ce_id in seen
                or not isinstance(o.data, dict)
            ):
                continue
            seen.add(ce_id)
            stages.append(int(o.data["to_stage"]))
        if any(b <= a for a, b in itertools.pairwise(stages)):
            verdict.disorder.append(
                f"rollout {rollout_id.decode()} stages in topic order: {stages}"
            )
        if len(partitions) > 1:
            verdict.disorder.append(f"rollout {rollout_id.decode()} spread over {partitions}")

    def _poison(self, observed: list[Observed], items: list[Input], verdict: Verdict) -> None:
        parked: dict[str, list[dict[str, bytes]]] = defaultdict(list)
        for o in observed:
            if o.topic.endswith(".dlt") and "chaos.poison" in o.headers:
                parked[o.headers["chaos.poison"].decode()].append(o.headers)
        for item in items:
            copies = parked.get(item.ident, [])
            topic, kind = item.facts["topic"], item.facts["kind"]
            by_consumer = {h.get("onramp.dlt.consumer", b"").decode(): h for h in copies}
            for service in CONSUMERS[topic]:
                consumer = f"{service}.{topic}"
                headers = by_consumer.get(consumer)
                if headers is None:
                    verdict.poison_missing.append(f"{item.ident} ({kind}) not parked by {consumer}")
                    continue
                missing = [h for h in DLT_HEADERS if h not in headers]
                got = headers.get("onramp.dlt.kind", b"").decode()
                if missing or got != kind:
                    verdict.poison_missing.append(
                        f"{item.ident} by {consumer}: kind {got!r} (want {kind}), missing {missing}"
                    )


async def _pause(seconds: float) -> None:
    await asyncio.sleep(seconds)
