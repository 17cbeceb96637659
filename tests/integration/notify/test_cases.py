"""Escalation cases on the real database, with a fake clock: urgent issues open cases, levels
page on time and once, acknowledgements and resolutions from the feedback service move them on,
and every step is announced on onramp.notify."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.notify.domain import escalation
from services.notify.domain.escalation import Level, Policy, Repeat
from services.notify.repository import cases as case_repo
from shared import db
from tests.integration.notify import builders as b
from tests.integration.notify.conftest import T0, World

MIN = timedelta(minutes=1)


async def directory(world: World) -> None:
    for event in (
        b.staff("it-1", T0, roles=["it_support"], email="it1@example.com"),
        b.staff("it-2", T0, roles=["it_support"], locale="zh-CN"),
        b.staff("adm-1", T0, roles=["admin"]),
        b.staff("s-sub", T0, manager_id="mgr-1", department_id="finance"),
        b.staff("mgr-1", T0),
        b.staff("head-1", T0),
        b.department("finance", "head-1", T0),
        b.created("r-1", "owner-1", T0),
    ):
        await world.consume(event)


async def set_policy(world: World, policy: Policy) -> None:
    async with db.transaction(world.pool) as conn:
        await case_repo.put_policy(conn, policy, "adm-1", T0)


TWO_LEVELS = Policy(
    "urgent-issue",
    (
        Level(timedelta(0), "always", ("role:it_support",)),
        Level(5 * MIN, "if_not_acked", ("manager:submitter", "role:admin")),
        Level(10 * MIN, "if_not_resolved", ("dept_head:submitter",)),
    ),
    Repeat(times=1, after=5 * MIN),
)


async def paged(world: World) -> list[tuple[int | None, int | None, list[str]]]:
    rows = await world.pool.fetch(
        "SELECT loop, level, recipients FROM case_log WHERE action = 'paged' ORDER BY id"
    )
    return [(r["loop"], r["level"], list(r["recipients"])) for r in rows]


async def the_case(world: World) -> dict[str, Any]:
    row = await world.pool.fetchrow("SELECT * FROM cases")
    assert row is not None
    return dict(row)


async def test_a_critical_issue_pages_it_support_at_once_in_their_language(world: World) -> None:
    await directory(world)
    report = b.issue("r-1", T0)
    await world.consume(report)

    for person in ("it-1", "it-2"):
        (note,) = await world.inbox(person)
        assert note["template"] == "issue.reported"
        assert note["priority"] == "urgent"
        assert note["data"]["feedback_id"] == report.data.feedback_id
        assert note["case_id"] is not None
    (english,), (chinese,) = await world.inbox("it-1"), await world.inbox("it-2")
    assert english["locale"] == "en"
    assert "Critical issue" in english["subject"]
    assert chinese["locale"] == "zh-CN"
    assert "严重" in chinese["subject"]
    assert await world.inbox("s-sub") == []

    (opened,) = await world.published("onramp.escalation.opened.v1")
    assert opened.data.targets == ["role:it_support"]
    assert opened.data.feedback_id == report.data.feedback_id
    assert opened.data.policy == "urgent-issue"
    sent = await world.published("onramp.notification.sent.v1")
    assert sorted((e.data.recipient_id, e.data.channel) for e in sent) == [
        ("it-1", "inbox"),
        ("it-2", "inbox"),
    ]
    assert {e.data.source_event_id for e in sent} == {opened.id}
    assert [d["channel"] for d in await world.deliveries("it-1")] == ["email"]


async def test_redelivery_opens_and_pages_nothing_more(world: World) -> None:
    await directory(world)
    report = b.issue("r-1", T0)
    for _ in range(3):
        await world.consume(report, claim=False)  # even past the inbox: the case is deduped
    assert await world.pool.fetchval("SELECT count(*) FROM cases") == 1
    assert len(await world.inbox("it-1")) == 1
    assert len(await world.published("onramp.escalation.opened.v1")) == 1


async def test_low_and_medium_issues_and_surveys_open_no_case(world: World) -> None:
    await directory(world)
    for severity in ("low", "medium"):
        await world.consume(b.issue("r-1", T0, severity=severity))
    assert await world.pool.fetchval("SELECT count(*) FROM cases") == 0
    assert await world.inbox("it-1") == []


async def test_levels_page_on_time_then_repeat_until_resolved(world: World) -> None:
    await directory(world)
    await set_policy(world, TWO_LEVELS)
    report = b.issue("r-1", T0)
    await world.consume(report)
    assert await paged(world) == [(0, 0, ["it-1", "it-2"])]

    await world.run_until(T0 + 5 * MIN - timedelta(seconds=1))
    assert len(await paged(world)) == 1  # nothing early
    await world.run_until(T0 + 5 * MIN)
    assert (await paged(world))[-1] == (0, 1, ["adm-1", "mgr-1"])
    await world.run_until(T0 + 15 * MIN)  # level 2 at 10 min, loop 1 starts at 15 min
    assert await paged(world) == [
        (0, 0, ["it-1", "it-2"]),
        (0, 1, ["adm-1", "mgr-1"]),
        (0, 2, ["head-1"]),
        (1, 0, ["it-1", "it-2"]),
    ]
    lateness = await world.pool.fetch(
        "SELECT at - due_at AS late FROM case_log WHERE action = 'paged'"
    )
    assert {r["late"] for r in lateness} == {timedelta(0)}

    escalated = await world.published("onramp.escalation.escalated.v1")
    assert [(e.data.repeat, e.data.level) for e in escalated] == [(0, 1), (0, 2), (1, 0)]
    assert escalated[0].data.targets == ["manager:submitter", "role:admin"]
    (mgr_note,) = await world.inbox("mgr-1")
    assert "[Escalated L2]" in mgr_note["subject"]

    await world.consume(b.resolved(report.data.feedback_id, "r-1", T0 + 16 * MIN))
    case = await the_case(world)
    assert (case["status"], case["closed_by"], case["next_loop"]) == ("closed", "it-1", None)
    assert await world.timers() == [] or all(
        t["kind"] != "escalation" for t in await world.timers()
    )
    await world.run_until(T0 + timedelta(days=1))
    assert len(await paged(world)) == 4  # closed: nothing more
    (closed,) = await world.published("onramp.escalation.closed.v1")
    assert closed.data.actor == "it-1"


async def test_acknowledging_skips_the_levels_that_wait_for_an_acknowledgement(
    world: World,
) -> None:
    await directory(world)
    await set_policy(world, TWO_LEVELS)
    report = b.issue("r-1", T0)
    await world.consume(report)
    await world.consume(b.acknowledged(report.data.feedback_id, "r-1", T0 + 2 * MIN))
    case = await the_case(world)
    assert (case["status"], case["acknowledged_by"]) == ("acknowledged", "it-1")
    assert (case["next_loop"], case["next_level"]) == (0, 2)  # level 1 waits for no ack

    await world.run_until(T0 + 30 * MIN)
    # level 1 (if_not_acked) is skipped in both loops; level 0 (always) and 2 still page
    assert [(loop, level) for loop, level, _ in await paged(world)] == [
        (0, 0),
        (0, 2),
        (1, 0),
        (1, 2),
    ]
    (ack,) = await world.published("onramp.escalation.acknowledged.v1")
    assert ack.data.actor == "it-1"
    # a second acknowledgement (redelivered with a new id, or from the API) changes nothing
    await world.consume(b.acknowledged(report.data.feedback_id, "r-1", T0 + 40 * MIN))
    assert len(await world.published("onramp.escalation.acknowledged.v1")) == 1


async def test_an_anonymous_issue_escalates_to_the_department_head_not_a_manager(
    world: World,
) -> None:
    await directory(world)
    await set_policy(world, TWO_LEVELS)
    await world.consume(b.issue("r-1", T0, staff_id=None))
    await world.run_until(T0 + 10 * MIN)
    assert await paged(world) == [
        (0, 0, ["it-1", "it-2"]),
        (0, 1, ["adm-1"]),  # manager:submitter names nobody
        (0, 2, ["head-1"]),
    ]
    unresolved = await world.pool.fetchval(
        "SELECT unresolved FROM case_log WHERE level = 1 AND action = 'paged'"
    )
    assert list(unresolved) == ["manager:submitter"]
    case = await the_case(world)
    assert case["submitter_id"] is None
    for table, column in (("cases", "submitter_id"), ("feedback", "staff_id")):
        assert (
            await world.pool.fetchval(f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL")
            == 0
        )


async def test_a_case_keeps_the_policy_it_opened_with(world: World) -> None:
    await directory(world)
    await world.consume(b.issue("r-1", T0))
    await set_policy(world, TWO_LEVELS)  # changed after the case opened
    case = await the_case(world)
    assert (
        escalation.from_json("urgent-issue", case["policy"])
        == escalation.DEFAULT_POLICIES["urgent-issue"]
    )
    assert case["next_due_at"] == T0 + timedelta(minutes=30)
