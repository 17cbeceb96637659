"""The page plumbing: language choice, complete catalogues, locale-aware formats, and the
dashboard's pure drawing helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from babel.messages.extract import extract_from_dir
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.requests import Request

from services.rollout.domain.plan import Plan
from services.rollout.repository.dashboard import Rated, StageEntry
from services.rollout.web import view
from shared.settings import Settings
from shared.web import LOCALES, Pages, load_translations, negotiate, pick_locale, static_router

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    ROOT / "shared" / "web",
    ROOT / "services" / "rollout" / "web",
    ROOT / "services" / "notify" / "web",
]
OPTIONS = {"**/templates/**.j2": {"extensions": "jinja2.ext.i18n"}}


SECRET = "a-development-secret-of-32-bytes-or-more"


def _app(**settings: Any) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(jwt_secret=SecretStr(SECRET), **settings)
    app.include_router(static_router())
    return app


def _request(query: str = "", cookie: str = "", accept: str = "") -> Request:
    headers = [(b"accept-language", accept.encode()), (b"cookie", cookie.encode())]
    scope = {"type": "http", "query_string": query.encode(), "headers": headers, "app": _app()}
    return Request(scope)


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "chosen"),
    [
        ("", "", "", "en"),
        ("", "", "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("", "", "fr-FR, en;q=0.5, zh;q=0.7", "zh-CN"),
        ("", "", "zh-Hant-TW", "zh-CN"),
        ("", "", "de, *;q=0.1", "en"),
        ("", "onramp_lang=en", "zh-CN", "en"),
        ("lang=zh-CN", "onramp_lang=en", "en", "zh-CN"),
        ("lang=xx", "onramp_lang=zh-CN", "en", "zh-CN"),
    ],
)
def test_the_language_comes_from_the_query_the_switch_then_the_browser(
    query: str, cookie: str, accept: str, chosen: str
) -> None:
    assert negotiate(_request(query, cookie, accept)) == chosen


def test_tags_map_to_the_supported_locales() -> None:
    assert [pick_locale(t) for t in ("EN-us", "zh_CN", "zh", "ja", None)] == [
        "en",
        "zh-CN",
        "zh-CN",
        None,
        None,
    ]


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.parent.name + "/web")
def test_every_string_of_the_pages_has_a_chinese_translation(package: Path) -> None:
    strings = {
        m
        for _, _, m, _, _ in extract_from_dir(package, [("**/templates/**.j2", "jinja2")], OPTIONS)
    }
    assert strings
    chinese = load_translations([package / "i18n"], "zh-CN")
    untranslated = sorted(s for s in strings if isinstance(s, str) and chinese.gettext(s) == s)
    assert untranslated == []


def test_numbers_and_dates_follow_the_locale(tmp_path: Path) -> None:
    (tmp_path / "t.html.j2").write_text(
        "{{ 0.734 | percent(1) }}|{{ 12345.5 | number(1) }}|{{ when | datetime }}"
        "|{{ 7200 | duration }}"
    )
    pages = Pages([tmp_path], [])
    when = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    rendered = {
        locale: bytes(
            pages.render(_request(f"lang={locale}"), "t.html.j2", when=when).body
        ).decode()
        for locale in LOCALES
    }
    assert rendered["en"] == "73.4%|12,345.5|Mar 2, 2026, 9:05:00\u202fAM UTC|2 hours"
    assert rendered["zh-CN"] == "73.4%|12,345.5|2026年3月2日 09:05:00 UTC|2小时"


def _plan() -> Plan:
    stages = [
        {"name": "pilot", "cohort": {"staff_ids": ["a", "b"]}},
        {"name": "finance", "cohort": {"department_ids": ["fin"]}, "advance_mode": "auto"},
        {"name": "all", "cohort": {"department_ids": ["fin", "ops"]}},
    ]
    return Plan.model_validate({"stages": stages})


def test_the_stage_strip_marks_done_current_next_and_later() -> None:
    steps = view.steps(_plan(), 1, False, {"fin": "Finance"})
    assert [s.state for s in steps] == ["done", "current", "next"]
    assert (steps[0].staff_count, steps[1].departments, steps[1].auto) == (2, ["Finance"], True)
    assert steps[2].departments == ["Finance", "ops"]
    assert [s.state for s in view.steps(_plan(), None, False, {})] == ["next", "later", "later"]
    assert [s.state for s in view.steps(_plan(), 2, True, {})] == ["done"] * 3


def test_the_satisfaction_chart_counts_each_answer_in_the_stage_visit_it_was_given_in() -> None:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    entries = [StageEntry(0, t0), StageEntry(1, t0 + timedelta(days=7))]
    ratings = [
        Rated("Ops", True, t0 + timedelta(days=1)),
        Rated("Ops", False, t0 + timedelta(days=2)),
        Rated("Finance", True, t0 + timedelta(days=8)),
        Rated(None, True, t0 + timedelta(days=9)),
        Rated("Ops", True, t0 - timedelta(days=1)),  # before the start: not in any visit
    ]
    chart = view.satisfaction_chart(entries, ratings, ["pilot", "finance"], 0.5, no_department="-")
    assert chart is not None
    shares = [[(b.department, b.share, b.responses) for b in g.bars] for g in chart.groups]
    assert [g.label for g in chart.groups] == ["1. pilot", "2. finance"]
    assert shares == [[("Ops", 0.5, 2)], [("-", 1.0, 1), ("Finance", 1.0, 1)]]
    assert chart.y_of(1.0) == chart.top
    assert chart.y_of(0.0) == chart.top + chart.plot_height
    assert view.satisfaction_chart(entries, [], ["pilot"], None, no_department="-") is None


async def _dev_login(app: FastAPI, role: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pages") as client:
        return await client.post("/dev-login", json={"role": role})


async def test_development_sign_in_issues_the_printed_dev_tokens_only_when_switched_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (await _dev_login(_app(), "admin")).status_code == 404  # off unless asked for
    monkeypatch.setenv("ONRAMP_DEV_LOGIN", "true")
    answer = await _dev_login(_app(), "it_support")
    assert answer.status_code == 200
    claims = jwt.decode(answer.json()["token"], SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["roles"]) == ("dev-it-support", ["it_support"])
    assert (await _dev_login(_app(), "root")).status_code == 422
    with_jwks = _app(jwt_jwks_url="https://idp.example/jwks")  # real tokens: never
    assert (await _dev_login(with_jwks, "admin")).status_code == 404
    page = Pages([], []).render(_request(), "base.html.j2")
    assert b'data-dev-role="admin"' in bytes(page.body)
