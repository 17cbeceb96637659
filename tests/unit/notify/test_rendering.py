"""Every notification kind renders in every language, from a real template file."""

from __future__ import annotations

import re

import jinja2
import pytest

from services.notify.domain.notifications import DIGEST_TEMPLATE, TEMPLATES
from services.notify.rendering import LOCALES, TEMPLATE_DIR, Renderer
from tests.unit.notify.samples import SAMPLES

RENDERER = Renderer()
KINDS = sorted([*TEMPLATES, DIGEST_TEMPLATE])
_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_kind_has_a_sample_and_a_file_per_language() -> None:
    assert sorted(SAMPLES) == KINDS
    for locale in LOCALES:
        for kind in KINDS:
            assert (TEMPLATE_DIR / locale / f"{kind}.txt.j2").is_file(), (locale, kind)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_renders(kind: str, locale: str) -> None:
    text = RENDERER.render(kind, locale, SAMPLES[kind])
    assert text.locale == locale
    assert text.subject
    assert "\n" not in text.subject
    assert len(text.subject) < 200
    assert text.body
    assert "{{" not in text.body
    assert "{%" not in text.body
    assert bool(_CJK.search(text.subject + text.body)) is (locale == "zh-CN")


@pytest.mark.parametrize(
    ("tag", "language"), [("zh-Hans-CN", "zh-CN"), ("de-DE", "en"), (None, "en")]
)
def test_the_recipients_locale_picks_the_language(tag: str | None, language: str) -> None:
    assert (
        RENDERER.render("feedback.resolved", tag, SAMPLES["feedback.resolved"]).locale == language
    )


def test_data_is_not_interpreted_as_markup() -> None:
    data = {**SAMPLES["feedback.resolved"], "resolution": "{{ 7 * 7 }} <b>done</b>"}
    assert "{{ 7 * 7 }} <b>done</b>" in RENDERER.render("feedback.resolved", "en", data).body


def test_a_missing_field_is_an_error_not_an_empty_string() -> None:
    data = dict(SAMPLES["feedback.resolved"])
    del data["resolution"]
    with pytest.raises(jinja2.UndefinedError):
        RENDERER.render("feedback.resolved", "en", data)


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown notification template"):
        RENDERER.render("../../etc/passwd", "en", {})


def test_evidence_is_listed_for_the_owner() -> None:
    body = RENDERER.render("stage.advanced", "en", SAMPLES["stage.advanced"]).body
    assert "satisfaction: inconclusive (value 0.80, threshold 0.70, n=14)" in body
    assert "6 more responses from Finance" in body
