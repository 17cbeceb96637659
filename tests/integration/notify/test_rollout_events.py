"""Rollout events on the real database: who hears what, the training reminder ladder, stalled
stages, guardrail pauses and overrides."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.notify import builders as b
from tests.integration.notify.conftest import T0, World

DAY = timedelta(days=1)
FINANCE = ["fin-1", "fin-2"]
SALES = ["sal-1", "sal-2", "sal-3"]


async def people(world: World) -> None:
    for event in (
        b.staff("owner-1", T0, roles=["admin"]),
        b.staff("ap-1", T0, roles=["approver"]),
        b.staff("ap-2", T0, roles=["approver"], active=False),
        b.staff("fin-1", T0, locale="zh-CN"),
        b.staff("fin-2", T0),
        b.staff("sal-1", T0, manager_id="boss"),
        b.staff("sal-2", T0, manager_id="boss"),
        b.staff("sal-3", T0, manager_id="boss", active=False),
        b.staff("boss", T0, name="The Boss"),
        b.created("r-1", "owner-1", T0),
    ):
        await world.consume(event)


def start_finance(at=T0, **more: object):  # type: ignore[no-untyped-def]
    return b.advanced(
        "r-1",
        1,
        at,
        current=b.stage("Finance", FINANCE, ["crm-101"]),
        following=b.stage("Sales", SALES, ["crm-101", "crm-201"]),
        **more,  # type: ignore[arg-type]
    )


async def templates(world: World, person: str) -> list[str]:
    return [n["template"] for n in await world.inbox(person)]


async def test_stage_advanced_tells_each_audience_what_concerns_them(world: World) -> None:
    await people(world)
    await world.consume(b.trained("fin-2", "crm-101", T0 - DAY))
    advanced = start_finance()
    await world.consume(advanced)

    (joined_zh,), (joined_en,) = await world.inbox("fin-1"), await world.inbox("fin-2")
    assert joined_zh["template"] == joined_en["template"] == "stage.joined"
    assert joined_zh["locale"] == "zh-CN"
    assert "crm-101" in joined_zh["body"]  # still to do
    assert "completed everything" in joined_en["body"]
    for member in SALES:
        assert await templates(world, member) == ["stage.next_up"]
    (owner,) = await world.inbox("owner-1")
    assert owner["template"] == "stage.advanced"
    assert owner["data"]["evidence"]["outcome"] == "pass"
    assert "satisfaction: pass" in owner["body"]
    assert await world.pool.fetchval("SELECT count(*) FROM cases") == 0  # no override

    await world.consume(advanced, claim=False)  # redelivered, even past the inbox claim
    assert await templates(world, "fin-1") == ["stage.joined"]


async def test_the_reminder_ladder_reminds_the_untrained_then_tells_their_manager(
    world: World,
) -> None:
    await people(world)
    await world.consume(start_finance())
    await world.consume(b.trained("sal-2", "crm-101", T0 + timedelta(hours=1)))

    await world.run_until(T0 + DAY)  # reminder 1 of 2
    assert await templates(world, "sal-1") == ["stage.next_up", "training.reminder"]
    assert await templates(world, "sal-2") == ["stage.next_up", "training.reminder"]
    assert await templates(world, "sal-3") == ["stage.next_up"]  # inactive: left alone
    reminder = (await world.inbox("sal-2"))[-1]
    assert reminder["data"]["missing_courses"] == ["crm-201"]

    await world.consume(b.trained("sal-2", "crm-201", T0 + 2 * DAY))  # done: no more reminders
    await world.run_until(T0 + 3 * DAY)  # reminder 2 of 2
    assert await templates(world, "sal-1") == ["stage.next_up", *["training.reminder"] * 2]
    assert await templates(world, "sal-2") == ["stage.next_up", "training.reminder"]

    await world.run_until(T0 + 5 * DAY)  # one gap later: the managers' digest
    (digest,) = [n for n in await world.inbox("boss") if n["template"] == "training.manager_digest"]
    assert [r["staff_id"] for r in digest["data"]["reports"]] == ["sal-1"]
    assert "Sal-1: crm-101, crm-201" in digest["body"]
    await world.run_until(T0 + 30 * DAY)
    assert len(await world.inbox("boss")) == 1  # one digest, then the ladder is done
    status = await world.pool.fetchval("SELECT status FROM reminder_ladders")
    assert status == "done"


async def test_completing_training_cancels_a_reminder_still_held_for_quiet_hours(
    world: World, client_for: object
) -> None:
    await people(world)
    await world.consume(
        b.staff("sal-1", T0, manager_id="boss", email="sal1@example.com", timezone="Asia/Shanghai")
    )
    await world.pool.execute(
        """INSERT INTO preferences (staff_id, prefs) VALUES ('sal-1',
           '{"quiet_hours": {"start": "08:00:00", "end": "20:00:00"}}')"""
    )
    await world.consume(start_finance())
    await world.run_until(T0 + DAY)  # 17:00 in Shanghai: the reminder's email waits for 20:00
    held = [d for d in await world.deliveries("sal-1") if d["template"] == "training.reminder"]
    assert [(d["status"], d["due_at"]) for d in held] == [
        ("pending", T0 + DAY + timedelta(hours=3))
    ]

    await world.consume(b.trained("sal-1", "crm-101", T0 + DAY + timedelta(hours=1)))
    await world.consume(b.trained("sal-1", "crm-201", T0 + DAY + timedelta(hours=1)))
    cancelled = [d for d in await world.deliveries("sal-1") if d["template"] == "training.reminder"]
    assert [d["status"] for d in cancelled] == ["cancelled"]


async def test_the_next_stage_starting_stops_the_ladder_for_it(world: World) -> None:
    await people(world)
    await world.consume(start_finance())
    sales_starts = b.advanced("r-1", 2, T0 + DAY / 2, current=b.stage("Sales", SALES, ["crm-101"]))
    await world.consume(sales_starts)
    await world.run_until(T0 + 10 * DAY)
    assert "training.reminder" not in await templates(world, "sal-1")


async def test_gate_changes_reach_the_owner_and_the_approvers(world: World) -> None:
    await people(world)
    await world.consume(start_finance())
    await world.consume(b.gate("r-1", 1, None, "inconclusive", T0 + DAY, approvals=2))
    assert await templates(world, "ap-1") == ["gate.approval_needed"]
    assert await templates(world, "ap-2") == []  # inactive
    assert "gate.approval_needed" not in await templates(world, "owner-1")  # asks, never approves
    await world.consume(b.gate("r-1", 1, "inconclusive", "pass", T0 + 2 * DAY))
    assert (await templates(world, "owner-1"))[-1] == "gate.ready"


async def test_a_stage_whose_gate_does_not_pass_in_time_opens_a_stalled_case(
    world: World,
) -> None:
    await people(world)
    await world.consume(start_finance())
    await world.consume(b.gate("r-1", 1, None, "fail", T0 + DAY))
    await world.run_until(T0 + 2 * DAY)  # the deadline (2 days) since the stage started
    case = await world.pool.fetchrow("SELECT kind, status, stage_index, reason FROM cases")
    assert case is not None
    assert (case["kind"], case["status"], case["stage_index"]) == ("stalled", "open", 1)
    assert (await templates(world, "owner-1"))[-1] == "stage.stalled"
    await world.run_until(T0 + 10 * DAY)
    assert await world.pool.fetchval("SELECT count(*) FROM cases") == 1  # one case, not one a day

    await world.consume(b.gate("r-1", 1, "fail", "pass", T0 + 11 * DAY))
    assert await world.pool.fetchval("SELECT status FROM cases") == "closed"
    (closed,) = await world.published("onramp.escalation.closed.v1")
    assert closed.data.actor == "auto"


async def test_a_gate_that_passes_in_time_opens_nothing(world: World) -> None:
    await people(world)
    await world.consume(start_finance())
    await world.consume(b.gate("r-1", 1, None, "pass", T0 + DAY))
    await world.run_until(T0 + 10 * DAY)
    assert await world.pool.fetchval("SELECT count(*) FROM cases") == 0
    # it stops passing: a full deadline from then
    await world.consume(b.gate("r-1", 1, "pass", "fail", T0 + 10 * DAY))
    await world.run_until(T0 + 12 * DAY - timedelta(seconds=1))
    assert await world.pool.fetchval("SELECT count(*) FROM cases") == 0
    await world.run_until(T0 + 12 * DAY)
    assert await world.pool.fetchval("SELECT kind FROM cases") == "stalled"


async def test_a_guardrail_pause_escalates_until_the_rollout_resumes(world: World) -> None:
    await people(world)
    await world.consume(start_finance())
    await world.consume(b.paused("r-1", 1, T0 + DAY))
    for member in FINANCE:
        assert (await templates(world, member))[-1] == "rollout.paused"
    owner = await templates(world, "owner-1")
    assert owner[-2:] == ["guardrail.tripped", "rollout.paused"]  # the case, then the news
    (opened,) = await world.published("onramp.escalation.opened.v1")
    assert opened.data.policy == "guardrail-pause"
    assert sorted(opened.data.targets) == ["role:admin", "rollout_owner"]

    await world.run_until(T0 + DAY + timedelta(hours=1))  # level 1: the approvers
    assert (await templates(world, "ap-1"))[-1] == "guardrail.tripped"
    await world.consume(b.resumed("r-1", 1, T0 + DAY + timedelta(hours=2)))
    assert await world.pool.fetchval("SELECT status FROM cases") == "closed"
    assert (await templates(world, "fin-2"))[-1] == "rollout.resumed"


async def test_a_manual_pause_opens_no_case_and_stops_the_stall_clock(world: World) -> None:
    await people(world)
    await world.consume(start_finance())
    await world.consume(b.paused("r-1", 1, T0 + DAY, cause="manual"))
    await world.run_until(T0 + 10 * DAY)
    assert await world.pool.fetchval("SELECT count(*) FROM cases") == 0


async def test_an_override_opens_a_case_for_the_steering_group(world: World) -> None:
    await people(world)
    await world.consume(start_finance(override="Quarter close cannot wait"))
    case = await world.pool.fetchrow("SELECT kind, reason, status FROM cases")
    assert case is not None
    assert (case["kind"], case["reason"]) == ("override", "Quarter close cannot wait")
    (note,) = await world.inbox("ap-1")
    assert note["template"] == "override.recorded"
    assert 'although its gate said "fail"' in note["body"]


async def test_rolling_back_sends_the_cohort_back_and_closes_the_stage_cases(
    world: World,
) -> None:
    await people(world)
    pilot = b.advanced("r-1", 0, T0, current=b.stage("Pilot", ["pil-1"]))
    await world.consume(pilot)
    await world.consume(start_finance(at=T0 + DAY, override="urgent"))
    await world.consume(b.rolled_back("r-1", 1, 0, FINANCE, T0 + 2 * DAY))
    for member in FINANCE:
        note = (await world.inbox(member))[-1]
        assert (note["template"], note["priority"]) == ("rollout.rolled_back", "high")
    assert await world.pool.fetchval("SELECT status FROM cases WHERE kind = 'override'") == "closed"
    assert await world.pool.fetchval("SELECT status FROM reminder_ladders") == "cancelled"
    row = await world.pool.fetchrow("SELECT stage_index, cohort_member_ids FROM rollouts")
    assert row is not None
    assert (row["stage_index"], list(row["cohort_member_ids"])) == (0, ["pil-1"])
    # back at the pilot stage, whose gate has not passed: its stall clock runs again
    await world.run_until(T0 + 4 * DAY)
    assert await world.pool.fetchval("SELECT stage_index FROM cases WHERE kind = 'stalled'") == 0


async def test_completing_over_a_failing_gate_is_an_override(world: World) -> None:
    await people(world)
    await world.consume(start_finance())
    await world.consume(b.completed("r-1", 1, T0 + DAY, override="go live anyway"))
    assert (await templates(world, "owner-1"))[-2:] == ["override.recorded", "rollout.completed"]
    kinds = await world.pool.fetch("SELECT kind, status FROM cases ORDER BY opened_at")
    assert [(r["kind"], r["status"]) for r in kinds] == [("override", "open")]
    assert not [t for t in await world.timers() if t["kind"] in ("stall", "reminder")]
