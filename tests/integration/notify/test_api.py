"""The notify API in process on the real database: inbox, preferences, policies, cases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.integration.notify import builders as b
from tests.integration.notify.conftest import T0, ClientFor, World


async def it_support_with_issues(world: World, count: int) -> list[str]:
    await world.consume(b.staff("it-1", T0, roles=["it_support"]))
    await world.consume(b.staff("s-sub", T0, manager_id="mgr-1"))
    reports = [b.issue("r-1", T0 + timedelta(seconds=n)) for n in range(count)]
    for report in reports:
        await world.consume(report)
    return [str(r.data.feedback_id) for r in reports]


# --- inbox --------------------------------------------------------------------------------


async def test_the_inbox_pages_newest_first_and_counts_unread(
    world: World, client_for: ClientFor
) -> None:
    feedback_ids = await it_support_with_issues(world, 5)
    me = client_for("it-1", "it_support")
    first = (await me.get("/v1/me/notifications", params={"limit": 2})).json()
    assert [i["data"]["feedback_id"] for i in first["items"]] == feedback_ids[::-1][:2]
    assert first["unread"] == 5
    second = (
        await me.get("/v1/me/notifications", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await me.get("/v1/me/notifications", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    seen = [i["data"]["feedback_id"] for page in (first, second, third) for i in page["items"]]
    assert seen == feedback_ids[::-1]
    assert third["next_cursor"] is None

    newest = first["items"][0]["notification_id"]
    assert (await me.post(f"/v1/me/notifications/{newest}/read")).status_code == 204
    assert (await me.post(f"/v1/me/notifications/{newest}/read")).status_code == 204  # again
    unread = (await me.get("/v1/me/notifications", params={"unread": True})).json()
    assert unread["unread"] == 4
    assert newest not in [i["notification_id"] for i in unread["items"]]
    assert (await me.post("/v1/me/notifications/read-all")).json() == {"marked": 4}
    assert (await me.get("/v1/me/notifications")).json()["unread"] == 0


async def test_nobody_reads_or_marks_someone_elses_inbox(
    world: World, client_for: ClientFor
) -> None:
    await it_support_with_issues(world, 1)
    mine = (await client_for("it-1", "it_support").get("/v1/me/notifications")).json()["items"]
    other = client_for("s-sub", "staff", "admin")
    assert (await other.get("/v1/me/notifications")).json()["items"] == []
    note = mine[0]["notification_id"]
    response = await other.post(f"/v1/me/notifications/{note}/read")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_cursor_the_api_did_not_give_is_refused(client_for: ClientFor) -> None:
    response = await client_for("s-1", "staff").get("/v1/me/notifications", params={"cursor": "x"})
    assert response.status_code == 422


# --- preferences --------------------------------------------------------------------------

SLACK = "https://hooks.slack.com/services/T0/B0/XYZ"


async def test_preferences_default_then_replace(client_for: ClientFor) -> None:
    me = client_for("s-1", "staff")
    default = (await me.get("/v1/me/preferences")).json()
    assert default["effective_channels"] == ["inbox", "email"]
    assert (default["quiet_hours"], default["digest"]["enabled"]) == (None, False)
    body = {
        "channels": {"email": False, "slack": True},
        "webhooks": {"slack": SLACK},
        "quiet_hours": {"start": "22:00", "end": "07:00"},
        "digest": {"enabled": True, "at": "08:30"},
        "timezone": "Asia/Shanghai",
        "locale": "zh-CN",
    }
    stored = await me.put("/v1/me/preferences", json=body, headers={"Idempotency-Key": "p-1"})
    assert stored.status_code == 200, stored.text
    assert stored.json()["effective_channels"] == ["inbox", "slack"]
    assert (await me.get("/v1/me/preferences")).json()["quiet_hours"] == {
        "start": "22:00:00",
        "end": "07:00:00",
    }
    replay = await me.put("/v1/me/preferences", json=body, headers={"Idempotency-Key": "p-1"})
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == stored.json()


async def test_preferences_are_each_persons_own(client_for: ClientFor) -> None:
    await client_for("s-1", "staff").put("/v1/me/preferences", json={"timezone": "Europe/Paris"})
    assert (await client_for("s-2", "staff").get("/v1/me/preferences")).json()["timezone"] is None


async def test_invalid_preferences(client_for: ClientFor) -> None:
    me = client_for("s-1", "staff")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"channels": {"slack": True}}, "needs a webhook URL"),
        ({"webhooks": {"slack": "https://evil.example/hook"}}, "may only go to https on"),
        ({"webhooks": {"teams": "http://hooks.slack.com/services/x"}}, "may only go to https"),
        ({"timezone": "Mars/Olympus"}, "IANA time zone"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "different times"),
        ({"channels": {"pager": True}}, "Input should be"),
        ({"locale": "zh CN"}, "pattern"),
        ({"unknown": 1}, "Extra inputs"),
    ]
    for body, complaint in cases:
        response = await me.put("/v1/me/preferences", json=body)
        assert response.status_code == 422, body
        assert complaint in response.text, (body, response.text)


# --- escalation policies ------------------------------------------------------------------

LEVELS: list[dict[str, Any]] = [
    {"delay": 0, "condition": "always", "targets": ["role:it_support"]},
    {"delay": "PT5M", "condition": "if_not_acked", "targets": ["staff:boss", "rollout_owner"]},
]
POLICY: dict[str, Any] = {
    "description": "fast",
    "levels": LEVELS,
    "repeat": {"times": 1, "after": 600},
}


async def test_policies_default_until_an_admin_replaces_them(client_for: ClientFor) -> None:
    admin, support = client_for("adm-1", "admin"), client_for("it-1", "it_support")
    listed = (await support.get("/v1/escalation-policies")).json()
    assert [p["name"] for p in listed] == [
        "urgent-issue",
        "guardrail-pause",
        "override",
        "stalled-stage",
    ]
    assert {(p["version"], p["is_default"]) for p in listed} == {(0, True)}

    stored = await admin.put("/v1/escalation-policies/urgent-issue", json=POLICY)
    assert stored.status_code == 200, stored.text
    got = (await support.get("/v1/escalation-policies/urgent-issue")).json()
    assert (got["version"], got["is_default"], got["updated_by"]) == (1, False, "adm-1")
    assert [lv["delay"] for lv in got["levels"]] == ["PT0S", "PT5M"]
    assert got["repeat"] == {"times": 1, "after": "PT10M"}
    again = await admin.put("/v1/escalation-policies/urgent-issue", json=POLICY)
    assert again.json()["version"] == 2


async def test_invalid_policies(client_for: ClientFor) -> None:
    admin = client_for("adm-1", "admin")
    level = LEVELS
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("urgent-issue", {"levels": []}, 422, "at least 1 item"),
        ("urgent-issue", {"levels": [level[1], level[0]]}, 422, "must not decrease"),
        (
            "urgent-issue",
            {"levels": [{"delay": 0, "condition": "always", "targets": ["everyone"]}]},
            422,
            "unknown target",
        ),
        (
            "urgent-issue",
            {"levels": [{"delay": 0, "condition": "sometimes", "targets": ["rollout_owner"]}]},
            422,
            "Input should be",
        ),
        (
            "urgent-issue",
            {**POLICY, "repeat": {"times": 2, "after": 0}, "levels": [level[0]]},
            422,
            "loop longer than zero",
        ),
        (
            "urgent-issue",
            {"levels": [{"delay": -5, "targets": ["rollout_owner"]}]},
            422,
            "greater than or equal",
        ),
        ("no-such-policy", POLICY, 404, "no case kind uses"),
    ]
    for name, body, status, complaint in cases:
        response = await admin.put(f"/v1/escalation-policies/{name}", json=body)
        assert response.status_code == status, (body, response.text)
        assert complaint in response.text, (body, response.text)
    missing = await admin.get("/v1/escalation-policies/no-such-policy")
    assert missing.status_code == 404


# --- cases --------------------------------------------------------------------------------


async def test_listing_reading_acknowledging_and_closing_cases(
    world: World, client_for: ClientFor
) -> None:
    await it_support_with_issues(world, 3)
    support = client_for("it-1", "it_support")
    page = (await support.get("/v1/escalations", params={"limit": 2})).json()
    assert [c["status"] for c in page["items"]] == ["open", "open"]
    rest = (
        await support.get("/v1/escalations", params={"limit": 2, "cursor": page["next_cursor"]})
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None
    case_id = page["items"][0]["case_id"]

    detail = (await support.get(f"/v1/escalations/{case_id}")).json()
    assert [entry["action"] for entry in detail["log"]] == ["opened", "paged"]
    assert detail["log"][1]["recipients"] == ["it-1"]

    key = {"Idempotency-Key": "ack-1"}
    acked = await support.post(f"/v1/escalations/{case_id}/acknowledge", headers=key)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["acknowledged_by"]) == ("acknowledged", "it-1")
    replay = await support.post(f"/v1/escalations/{case_id}/acknowledge", headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true"
    again = await support.post(f"/v1/escalations/{case_id}/acknowledge")  # no key: harmless
    assert again.json()["status"] == "acknowledged"
    assert len(await world.published("onramp.escalation.acknowledged.v1")) == 1

    closed = await support.post(f"/v1/escalations/{case_id}/close", json={"reason": "duplicate"})
    assert closed.json()["status"] == "closed"
    assert closed.json()["close_reason"] == "duplicate"
    filtered = (await support.get("/v1/escalations", params={"status": "closed"})).json()
    assert [c["case_id"] for c in filtered["items"]] == [case_id]
    (event,) = await world.published("onramp.escalation.closed.v1")
    assert (event.data.actor, event.data.reason) == ("it-1", "duplicate")


async def test_someone_a_case_paged_may_acknowledge_it_without_a_case_role(
    world: World, client_for: ClientFor
) -> None:
    await world.consume(b.staff("mgr-1", T0))
    await world.consume(b.staff("s-sub", T0, manager_id="mgr-1"))
    await world.pool.execute(
        """INSERT INTO escalation_policies (name, policy, version, updated_at, updated_by)
           VALUES ('urgent-issue', $1, 1, now(), 'test')""",
        {
            "description": "",
            "repeat": None,
            "levels": [{"delay_s": 0, "condition": "always", "targets": ["manager:submitter"]}],
        },
    )
    await world.consume(b.issue("r-1", T0))
    case_id = await world.pool.fetchval("SELECT case_id FROM cases")
    stranger = client_for("s-other", "staff")
    assert (await stranger.get(f"/v1/escalations/{case_id}")).status_code == 403
    assert (await stranger.post(f"/v1/escalations/{case_id}/acknowledge")).status_code == 403
    manager = client_for("mgr-1", "staff")
    assert (await manager.get(f"/v1/escalations/{case_id}")).status_code == 200
    acked = await manager.post(f"/v1/escalations/{case_id}/acknowledge")
    assert acked.json()["acknowledged_by"] == "mgr-1"
    assert (await manager.get("/v1/escalations")).status_code == 403  # only their own case
    close = await manager.post(f"/v1/escalations/{case_id}/close", json={"reason": "x"})
    assert close.status_code == 403


async def test_unknown_cases(client_for: ClientFor) -> None:
    support = client_for("it-1", "it_support")
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await support.get(f"/v1/escalations/{missing}")).status_code == 404
    assert (await support.post(f"/v1/escalations/{missing}/acknowledge")).status_code == 404
    close = await support.post(f"/v1/escalations/{missing}/close", json={"reason": "x"})
    assert close.status_code == 404
    assert (await support.get("/v1/escalations/not-a-uuid")).status_code == 422
