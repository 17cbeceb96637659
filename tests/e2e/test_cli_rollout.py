"""``onramp rollout ...`` against the running rollout service, run as the console script a user
would type (URL and token from ONRAMP_ROLLOUT_URL and ONRAMP_TOKEN)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from shared.auth import issue_dev_token
from shared.events import new_event, to_record, topics
from shared.events.models import StaffUpserted
from tests.conftest import TEST_JWT_SECRET
from tests.e2e.conftest import Stack
from tests.e2e.test_slice import directory_applied
from tests.support.polling import eventually

pytestmark = pytest.mark.e2e

ONRAMP = Path(sys.executable).with_name("onramp")


async def onramp(stack: Stack, token: str, *args: str) -> tuple[int, str, str]:
    """Run the console script; (exit code, stdout, stderr)."""
    assert ONRAMP.exists(), "the onramp console script is missing: pip install -e . (make does)"
    env = {
        **os.environ,
        "ONRAMP_ROLLOUT_URL": stack.url("rollout"),
        "ONRAMP_TOKEN": token,
        "COLUMNS": "200",
    }
    proc = await asyncio.create_subprocess_exec(
        str(ONRAMP),
        "rollout",
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def publish_staff(producer: Producer, staff_id: str, department_id: str) -> None:
    data = StaffUpserted(
        staff_id=staff_id, name=staff_id.title(), department_id=department_id, roles=["staff"]
    )
    event = new_event(
        "onramp.staff.upserted.v1", source="/hr/directory", subject=f"staff/{staff_id}", data=data
    )
    record = to_record(event, topic=topics.DIRECTORY, key=staff_id)
    producer.produce(record.topic, record.value, record.key, headers=list(record.headers))


async def test_rollout_commands_drive_a_rollout(
    stack: Stack, hr_system: Producer, db_reader: Any
) -> None:
    run = uuid.uuid4().hex[:8]
    department, rollout_id = f"cli-{run}", f"cli-rollout-{run}"
    staff = [f"cli-{run}-{n}" for n in range(3)]
    for n, staff_id in enumerate(staff):
        publish_staff(hr_system, staff_id, department if n < 2 else f"{department}-b")
    hr_system.flush(10)
    await eventually(lambda: directory_applied(db_reader, staff), timeout=30)

    plan = {
        "rollout_id": rollout_id,
        "name": f"CLI {run}",
        "system": "mail",
        "stages": [
            # The default gate wants survey answers nobody has given, and approvals may not
            # make up for an inconclusive gate here: advancing is refused.
            {
                "name": "pilot",
                "cohort": {"department_ids": [department]},
                "approval": {"when": "never"},
            },
            {"name": "everyone", "cohort": {"department_ids": [f"{department}-b"]}},
        ],
    }
    async with stack.client("rollout", "cli-admin", "admin") as http:
        created = await http.post("/v1/rollouts", json=plan)
        assert created.status_code == 201, created.text
        started = await http.post(f"/v1/rollouts/{rollout_id}/start")
        assert started.status_code == 200, started.text

        async def state() -> dict[str, Any]:
            response = await http.get(f"/v1/rollouts/{rollout_id}")
            assert response.status_code == 200, response.text
            found: dict[str, Any] = response.json()
            return found

        admin = issue_dev_token(TEST_JWT_SECRET, "cli-admin", ["admin"])

        code, out, err = await onramp(stack, admin, "list", "--status", "running", "--limit", "200")
        assert code == 0, err
        assert rollout_id in out
        assert f"CLI {run}" in out
        assert "0 pilot" in out

        code, out, err = await onramp(stack, admin, "show", rollout_id)
        assert code == 0, err
        assert "status: running" in out
        assert "pilot" in out
        assert "everyone" in out
        assert f"departments {department}" in out
        assert "current" in out
        assert "next" in out

        code, out, err = await onramp(stack, admin, "show", rollout_id, "--json")
        assert code == 0, err
        assert json.loads(out)["rollout_id"] == rollout_id

        code, out, err = await onramp(stack, admin, "gate", rollout_id)
        assert code == 0, err
        assert "stage 0 → stage 1" in out
        assert "satisfaction" in out
        assert "threshold" in out
        assert "an advance now would: refuse" in out

        # A refusal: one error line on stderr, the gate report on stdout, exit code 1.
        code, out, err = await onramp(stack, admin, "advance", rollout_id, "--expected-stage", "0")
        assert code == 1
        assert "error: HTTP 409 Conflict" in err
        assert len(err.strip().splitlines()) == 1
        assert "criteria" in out
        assert "satisfaction" in out
        assert (await state())["stage"] == 0

        # A stale expectation is a conflict too, without a report.
        code, out, err = await onramp(stack, admin, "advance", rollout_id, "--expected-stage", "1")
        assert code == 1
        assert "HTTP 409" in err
        assert "stage 0" in err

        code, out, err = await onramp(stack, admin, "pause", rollout_id, "--reason", "incident")
        assert code == 0, err
        assert f"paused: {rollout_id} is paused" in out
        assert (await state())["status"] == "paused"

        code, out, err = await onramp(stack, admin, "show", rollout_id)
        assert code == 0, err
        assert "paused (manual) by cli-admin: incident" in out

        code, out, err = await onramp(stack, admin, "resume", rollout_id)
        assert code == 0, err
        assert f"resumed: {rollout_id} is running" in out
        assert (await state())["status"] == "running"

        code, out, err = await onramp(
            stack,
            admin,
            "advance",
            rollout_id,
            "--expected-stage",
            "0",
            "--override",
            "--reason",
            "pilot signed off in person",
        )
        assert code == 0, err
        assert f"advanced: {rollout_id} is running, stage 1 everyone" in out
        assert (await state())["stage"] == 1

        # An admin may not vote: the service's 403 becomes one clear line.
        code, out, err = await onramp(stack, admin, "approve", rollout_id, "--expected-stage", "1")
        assert code == 1
        assert "error: HTTP 403 Forbidden" in err

    code, out, err = await onramp(stack, "", "show", rollout_id)
    assert code == 1
    assert "no token" in err
    code, out, err = await onramp(stack, admin, "show", f"missing-{run}")
    assert code == 1
    assert "error: HTTP 404 Not Found: no rollout" in err
