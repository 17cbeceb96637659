"""Plumbing of the server-rendered pages (rollout dashboard, notify inbox): language choice,
gettext catalogues, locale-aware number and date filters, the vendored static files, and a way
to serve pages outside ``/v1``.

Pages are Jinja2 templates translated with gettext catalogues (``.po`` files read by Babel at
start, no compiled ``.mo`` files to keep in step). Numbers and dates are formatted by Babel from
CLDR data. No business rule lives here: services bring their own templates and catalogues.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
from babel.dates import format_datetime, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth import ROLES, RoleName, issue_dev_token
from shared.settings import Settings

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
LOCALES: tuple[str, ...] = ("en", "zh-CN")  # the first is the default
LANGUAGE_COOKIE = "onramp_lang"
STATIC_PREFIX = "/static/onramp"
_BABEL = {"en": "en", "zh-CN": "zh_CN"}
NO_VALUE = "\u2013"  # an en dash: no value
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css"}


class WebSettings(BaseSettings):
    """``ONRAMP_DEV_LOGIN=true`` (set by ``make run`` only) shows one-click sign-in buttons that
    issue the development tokens ``make run`` prints. Never set it where tokens come from an
    identity provider; it has no effect without an HS256 ``ONRAMP_JWT_SECRET``."""

    model_config = SettingsConfigDict(env_prefix="ONRAMP_", extra="ignore")

    dev_login: bool = False


def dev_login_enabled(settings: Settings) -> bool:
    return WebSettings().dev_login and settings.jwt_secret is not None and not settings.jwt_jwks_url


def pick_locale(tag: str | None) -> str | None:
    """The supported locale for one BCP 47 tag: exact, else same language; None if none.

    >>> pick_locale("zh-Hans-CN"), pick_locale("en-GB"), pick_locale("fr")
    ('zh-CN', 'en', None)
    """
    if not tag:
        return None
    wanted = tag.strip().replace("_", "-").lower()
    for name in LOCALES:
        if name.lower() == wanted:
            return name
    language = wanted.split("-", 1)[0]
    return next((n for n in LOCALES if n.lower().split("-", 1)[0] == language), None)


def _accepted(header: str) -> list[str]:
    """Tags of an ``Accept-Language`` header, best first (ties keep their order)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def negotiate(request: Request) -> str:
    """``?lang=``, then the language cookie the page's switch sets, then ``Accept-Language``."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if (found := pick_locale(chosen)) is not None:
            return found
    for tag in _accepted(request.headers.get("accept-language", "")):
        if (found := pick_locale(tag)) is not None:
            return found
    return LOCALES[0]


def load_translations(catalogues: Sequence[Path], locale: str) -> Translations:
    """The gettext catalogues ``<folder>/<babel locale>/LC_MESSAGES/messages.po``, merged."""
    merged = Translations()
    for folder in catalogues:
        po = folder / _BABEL[locale] / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            continue
        with po.open("rb") as source:
            catalogue = read_po(source, locale=_BABEL[locale])
        compiled = io.BytesIO()
        write_mo(compiled, catalogue)
        compiled.seek(0)
        merged.merge(Translations(compiled))
    return merged


class Pages:
    """Templates of one service in every supported language (one Jinja2 environment each)."""

    def __init__(self, templates: Sequence[Path], catalogues: Sequence[Path]) -> None:
        self._templates = [*templates, HERE / "templates"]
        self._catalogues = [HERE / "i18n", *catalogues]

    @cached_property
    def _environments(self) -> dict[str, jinja2.Environment]:
        return {locale: self._environment(locale) for locale in LOCALES}

    def _environment(self, locale: str) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self._templates),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(  # type: ignore[attr-defined]
            load_translations(self._catalogues, locale), newstyle=True
        )
        babel = _BABEL[locale]
        env.filters.update(
            number=lambda v, digits=0: _number(v, digits, babel),
            percent=lambda v, digits=0: _percent(v, digits, babel),
            datetime=lambda v: _datetime(v, babel),
            duration=lambda v: _duration(v, babel),
        )
        env.globals.update(locale=locale, locales=LOCALES, static=STATIC_PREFIX, html_lang=locale)
        return env

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        locale = negotiate(request)
        template = self._environments[locale].get_template(name)
        dev_login = dev_login_enabled(request.app.state.settings)
        response = HTMLResponse(
            template.render(dev_login=dev_login, dev_roles=ROLES, **context), status_code=status
        )
        response.headers["Content-Language"] = locale
        response.headers["Vary"] = "Accept-Language, Cookie"
        response.headers["Cache-Control"] = "no-store"
        return response


def _number(value: float | None, digits: int, locale: str) -> str:
    if value is None:
        return NO_VALUE
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return str(format_decimal(value, format=pattern, locale=locale))


def _percent(value: float | None, digits: int, locale: str) -> str:
    if value is None:
        return NO_VALUE
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return str(format_percent(value, format=pattern, locale=locale))


def _datetime(value: datetime | str | None, locale: str) -> str:
    if value is None:
        return NO_VALUE
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return str(format_datetime(value, "medium", tzinfo=UTC, locale=locale)) + " UTC"


def _duration(seconds: float | None, locale: str) -> str:
    if seconds is None:
        return NO_VALUE
    return str(format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=locale))


class DevLoginIn(BaseModel):
    role: RoleName


class DevLoginOut(BaseModel):
    token: str


def static_router() -> APIRouter:
    """``/static/onramp/<file>``: the vendored and own static files, from this package only;
    and ``POST /dev-login`` where development sign-in is switched on (404 elsewhere)."""
    router = APIRouter(include_in_schema=False)

    @router.post("/dev-login")
    async def dev_login(body: DevLoginIn, request: Request) -> DevLoginOut:
        settings: Settings = request.app.state.settings
        if not dev_login_enabled(settings) or settings.jwt_secret is None:
            raise HTTPException(404, "development sign-in is off")
        sub = f"dev-{body.role.replace('_', '-')}"  # the subjects make run prints tokens for
        return DevLoginOut(
            token=issue_dev_token(settings.jwt_secret.get_secret_value(), sub, [body.role])
        )

    served = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in _STATIC_TYPES}

    @router.get(STATIC_PREFIX + "/{name}")
    async def static(name: str) -> FileResponse:
        path = served.get(name)
        if path is None:
            raise HTTPException(404, "no such file")
        return FileResponse(
            path,
            media_type=_STATIC_TYPES[path.suffix],
            headers={"Cache-Control": "public, max-age=300"},
        )

    return router


def site(pages: APIRouter) -> APIRouter:
    """A service's HTML pages with the static files and development sign-in, for
    ``ServiceSpec.pages``: mounted at the root, outside ``/v1``. The pages carry no data and no
    bearer token (a browser navigation cannot send one); data comes from ``/v1`` fragment routes
    that check the token like every other API route."""
    router = APIRouter(include_in_schema=False)
    router.include_router(pages)
    router.include_router(static_router())
    return router
