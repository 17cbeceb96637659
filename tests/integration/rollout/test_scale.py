"""What a gate costs with cohorts of 10,000 staff (the figure DESIGN's issue asks for).

Run with ``-s`` to see the measurements; the assertions only catch an order-of-magnitude slip.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx

from services.rollout.handlers import commands, reading
from services.rollout.repository import rollouts
from shared import db
from tests.integration.rollout.conftest import World, plan, stage

SIZE = 10_000


async def seed(world: World, rollout_id: str) -> None:
    """Two departments of 10,000 people each, half of the second trained, 3,000 answers from
    the first and 50 open issues: loaded in bulk, as a replayed directory would leave them."""
    now = datetime.now(UTC)
    async with world.pool.acquire() as conn:
        await conn.copy_records_to_table(
            "staff",
            records=[
                (f"{dept}-{n:05}", f"Person {n}", dept, None, True, now)
                for dept in ("big", "next")
                for n in range(SIZE)
            ],
            columns=["staff_id", "name", "department_id", "manager_id", "active", "updated_at"],
        )
        await conn.copy_records_to_table(
            "completions",
            records=[
                (f"next-{n:05}", course, now) for n in range(SIZE // 2) for course in ("crm", "sso")
            ],
            columns=["staff_id", "course_id", "completed_at"],
        )
        later = now + timedelta(minutes=1)
        await conn.copy_records_to_table(
            "survey_answers",
            records=[
                (rollout_id, f"key-{n}", f"fb-{n}", f"big-{n:05}", "big", 5 - n % 3, later)
                for n in range(3000)
            ],
            columns=[
                "rollout_id",
                "respondent",
                "feedback_id",
                "staff_id",
                "department_id",
                "csat",
                "submitted_at",
            ],
        )
        await conn.copy_records_to_table(
            "issues",
            records=[
                (f"i-{n}", rollout_id, "high", "open", f"big-{n:05}", "big", now, now)
                for n in range(50)
            ],
            columns=[
                "feedback_id",
                "rollout_id",
                "severity",
                "status",
                "staff_id",
                "department_id",
                "submitted_at",
                "updated_at",
            ],
        )


async def test_gate_evaluation_cost_for_cohorts_of_ten_thousand(
    world: World, admin: httpx.AsyncClient
) -> None:
    body = plan(
        stage("big", gate={}),
        stage("next", required_course_ids=["crm", "sso"]),
    )
    body["start_gate"] = {"training": None}
    assert (await admin.post("/v1/rollouts", json=body)).status_code == 201
    rid = body["rollout_id"]
    await seed(world, rid)

    begun = time.perf_counter()
    async with db.transaction(world.pool) as conn:
        await commands.start(conn, rid, "owner-1", None, datetime.now(UTC) - timedelta(seconds=1))
    start_s = time.perf_counter() - begun

    timings = []
    for _ in range(7):
        async with db.transaction(world.pool) as conn:
            rollout = await rollouts.get_rollout(conn, rid, lock=True)
            assert rollout is not None
            begun = time.perf_counter()
            view = await reading.view(
                conn, rollout, datetime.now(UTC) + timedelta(hours=1), requester=None
            )
            timings.append(time.perf_counter() - begun)
    evaluation_s = statistics.median(timings)
    criteria = {c.name: c for c in view.report.criteria}
    assert criteria["satisfaction"].sample_size == 3000
    assert criteria["training"].sample_size == SIZE
    assert criteria["training"].value == 0.5
    assert criteria["blockers"].value == 50
    (event,) = [e for e in await world.events(rid) if e.type.endswith("stage_advanced.v1")]
    assert event.data.stage.cohort.staff_count == SIZE
    assert len(event.data.next_stage.cohort.member_ids) == SIZE
    print(
        f"\ncohorts of {SIZE}: start (freeze 10,000 members, event with 20,000 ids) "
        f"{start_s * 1000:.0f} ms; gate evaluation median of 7: {evaluation_s * 1000:.0f} ms "
        f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f})"
    )
    assert evaluation_s < 2.0
    assert start_s < 5.0
