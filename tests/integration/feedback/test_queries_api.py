"""Listing with filters and cursors, one item, and the rollout summary over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.integration.feedback.conftest import FeedbackApi
from tests.integration.feedback.test_submit_api import issue, place_in_department, survey


async def _submit(api: FeedbackApi, sub: str, body: dict[str, Any]) -> dict[str, Any]:
    async with api.client(sub, "staff") as client:
        response = await client.post("/v1/feedback", json=body)
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()
    return stored


async def _list(api: FeedbackApi, **params: Any) -> dict[str, Any]:
    async with api.client("it-1", "it_support") as support:
        response = await support.get("/v1/feedback", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def test_pages_walk_every_item_once_newest_first(api: FeedbackApi) -> None:
    rollout_id = await api.know_rollout()
    posted = [
        (await _submit(api, f"s-{n}", survey(rollout_id, csat=1 + n % 5)))["feedback_id"]
        for n in range(7)
    ]
    seen, cursor, pages = [], None, 0
    while True:
        page = await _list(
            api, rollout_id=rollout_id, limit=3, **({"cursor": cursor} if cursor else {})
        )
        seen += [item["feedback_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(posted))


async def test_filters(api: FeedbackApi) -> None:
    rollout_id, other_rollout = await api.know_rollout(), await api.know_rollout()
    await place_in_department(api, "s-fin", "finance")
    await _submit(api, "s-fin", survey(rollout_id))
    critical = await _submit(api, "s-fin", issue(rollout_id, severity="critical"))
    low = await _submit(api, "s-2", issue(rollout_id, severity="low"))
    await _submit(api, "s-2", {"rollout_id": other_rollout, "kind": "comment", "text": "hi"})
    async with api.client("it-1", "it_support") as support:
        await support.post(f"/v1/feedback/{low['feedback_id']}/acknowledge")

    def ids(page: dict[str, Any]) -> set[str]:
        return {item["feedback_id"] for item in page["items"]}

    assert len((await _list(api, rollout_id=rollout_id))["items"]) == 3
    assert ids(await _list(api, rollout_id=rollout_id, kind="issue")) == {
        critical["feedback_id"],
        low["feedback_id"],
    }
    assert ids(await _list(api, severity="critical")) == {critical["feedback_id"]}
    assert ids(await _list(api, status="acknowledged")) == {low["feedback_id"]}
    assert ids(await _list(api, kind="issue", department_id="finance")) == {critical["feedback_id"]}
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await _list(api, since=later))["items"] == []
    assert len((await _list(api, until=later))["items"]) == 4


async def test_bad_queries_are_422(api: FeedbackApi) -> None:
    async with api.client("it-1", "it_support") as support:
        for params in (
            {"cursor": "garbage"},
            {"limit": 0},
            {"limit": 201},
            {"kind": "praise"},
            {"since": "2027-01-01T00:00:00"},  # no time zone
            {"since": "2027-02-01T00:00:00Z", "until": "2027-01-01T00:00:00Z"},
            {"colour": "red"},
        ):
            response = await support.get("/v1/feedback", params=params)
            assert response.status_code == 422, params


async def test_the_summary_hides_small_departments(api: FeedbackApi) -> None:
    rollout_id = await api.know_rollout(name="New CRM")
    for n in range(6):
        await place_in_department(api, f"fin-{n}", "finance")
        await _submit(api, f"fin-{n}", survey(rollout_id, csat=5 if n < 4 else 2, nps=9))
    for n in range(2):
        await place_in_department(api, f"hr-{n}", "hr")
        await _submit(api, f"hr-{n}", survey(rollout_id, csat=1, anonymous=True))
    stuck = await _submit(api, "fin-0", issue(rollout_id, severity="critical"))
    await _submit(api, "fin-1", issue(rollout_id, severity="low"))
    async with api.client("it-1", "it_support") as support:
        await support.post(
            f"/v1/feedback/{stuck['feedback_id']}/resolve", json={"resolution": "Fixed"}
        )
    async with api.client("ap-1", "approver") as approver:
        response = await approver.get(f"/v1/rollouts/{rollout_id}/feedback-summary")
    assert response.status_code == 200, response.text
    summary = response.json()
    assert (summary["name"], summary["respondents"], summary["min_group_size"]) == ("New CRM", 8, 5)
    assert summary["csat"]["distribution"] == {"1": 2, "2": 2, "3": 0, "4": 0, "5": 4}
    assert summary["csat"]["satisfied_share"] == 0.5
    assert (summary["nps"]["responses"], summary["nps"]["score"]) == (6, 100.0)
    assert summary["issues"]["by_status"] == {"open": 1, "acknowledged": 0, "resolved": 1}
    assert summary["issues"]["open_by_severity"]["low"] == 1
    assert summary["issues"]["median_seconds_to_resolve"] >= 0
    # hr (2) would be given away by finance's figures, so only the totals cover it
    assert summary["departments"] == []
    assert summary["hidden"] == {"departments": 2, "respondents": 8}


async def test_the_summary_of_a_period_counts_the_latest_answer_within_it(
    api: FeedbackApi,
) -> None:
    rollout_id = await api.know_rollout()
    before = await _submit(api, "s-1", survey(rollout_id, csat=1))
    await _submit(api, "s-1", survey(rollout_id, csat=5))
    async with api.client("a-1", "admin") as admin:
        whole = (await admin.get(f"/v1/rollouts/{rollout_id}/feedback-summary")).json()
        until_second = (
            await admin.get(
                f"/v1/rollouts/{rollout_id}/feedback-summary",
                params={"until": _just_after(before["submitted_at"])},
            )
        ).json()
    assert whole["csat"]["distribution"]["5"] == 1
    assert until_second["csat"]["distribution"]["1"] == 1


def _just_after(timestamp: str) -> str:
    return (datetime.fromisoformat(timestamp) + timedelta(microseconds=1)).isoformat()


async def test_the_summary_of_an_unknown_rollout_is_404(api: FeedbackApi) -> None:
    async with api.client("a-1", "admin") as admin:
        response = await admin.get("/v1/rollouts/nope/feedback-summary")
    assert response.status_code == 404
