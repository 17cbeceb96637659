"""Notification texts from Jinja2 templates, one file per kind and language.

``templates/<locale>/<kind>.txt.j2`` defines two blocks, ``subject`` and ``body``. Templates are
plain text (email text parts, chat messages, the inbox), so nothing is HTML-escaped; undefined
variables are errors, which the template tests catch for every kind and language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from services.notify.domain import locale as locales
from services.notify.domain.notifications import DIGEST_TEMPLATE, TEMPLATES

TEMPLATE_DIR = Path(__file__).parent / "templates"
LOCALES: tuple[str, ...] = ("en", "zh-CN")  # preference order for a language match


@dataclass(frozen=True, slots=True)
class Text:
    locale: str
    subject: str
    body: str


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _duration(seconds: float) -> str:
    """A compact duration: 45s, 30m, 2h, 3d, 1d 6h."""
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            smaller = {"d": ("h", 3600), "h": ("m", 60), "m": ("s", 1)}[unit]
            part = rest // smaller[1]
            return f"{whole}{unit}" + (f" {part}{smaller[0]}" if part else "")
    return f"{seconds}s"


class Renderer:
    def __init__(self, folder: Path = TEMPLATE_DIR) -> None:
        self._folder = folder

    @cached_property
    def _env(self) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self._folder),
            autoescape=False,  # plain text only, see the module docstring
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters.update(percent=_percent, number=_number, duration=_duration)
        return env

    def locale_for(self, tag: str | None) -> str:
        return locales.pick(tag, LOCALES)

    def render(self, template: str, locale_tag: str | None, data: Mapping[str, Any]) -> Text:
        if template not in TEMPLATES and template != DIGEST_TEMPLATE:
            raise ValueError(f"unknown notification template {template!r}")
        chosen = self.locale_for(locale_tag)
        compiled = self._env.get_template(f"{chosen}/{template}.txt.j2")
        context = compiled.new_context(dict(data))
        subject = "".join(compiled.blocks["subject"](context)).strip()
        body = "".join(compiled.blocks["body"](context)).strip()
        return Text(chosen, " ".join(subject.split()), body)
