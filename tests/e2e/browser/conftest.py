"""Headless Chromium (Debian's, driven by Playwright) against the three services as real
processes. One browser per session, a fresh context and page per test, screenshots under
``.onramp/artifacts/screenshots/<test>-<step>.png`` (also ``<test>-failed.png`` on failure).

Chromium comes from the system (``tools/install-chromium.sh``; ``ONRAMP_CHROMIUM`` overrides
the path); Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.auth import issue_dev_token
from tests.conftest import TEST_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".onramp" / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

Shot = Callable[[Page, str], Awaitable[Path]]


def chromium_path() -> str:
    path = os.environ.get("ONRAMP_CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            f"no Chromium at {path}: run tools/install-chromium.sh (make browser) "
            "or set ONRAMP_CHROMIUM"
        )
    return path


def token(sub: str, *roles: str) -> str:
    return issue_dev_token(TEST_JWT_SECRET, sub, list(roles))


@pytest.fixture(scope="session", autouse=True)
def _patient_expectations() -> None:
    """Two shared cores and four test sessions at once: give the page time to catch up."""
    expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shot:
    """``await shot(page, "step")`` saves ``<test>-<step>.png`` and returns its path. The test's
    screenshots from an earlier run are removed first, so the folder shows only this run."""
    prefix = _safe(request.node.name)
    for stale in SCREENSHOTS.glob(f"{prefix}-*.png"):
        stale.unlink()

    async def take(page: Page, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{prefix}-{_safe(step)}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path

    return take


PageFor = Callable[..., Awaitable[Page]]


@pytest.fixture
async def page_for(
    browser: Browser, request: pytest.FixtureRequest, shot: Shot
) -> AsyncIterator[PageFor]:
    """``await page_for(token=..., locale="en")``: a page in a fresh browser context, signed in
    with ``token`` when given (as the sign-in form would store it). A failing test leaves a
    screenshot of each of its pages."""
    pages: list[Page] = []

    async def make(*, token: str | None = None, locale: str = "en-GB") -> Page:
        context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        if token is not None:
            await context.add_init_script(
                f"window.localStorage.setItem('onramp.token', {token!r});"
            )
        page = await context.new_page()
        pages.append(page)
        return page

    yield make
    failed = getattr(request.node, "report_call", None)
    for index, page in enumerate(pages):
        if failed is not None and failed.failed:
            await shot(page, f"failed-{index}")
        await page.context.close()


@pytest.fixture
async def page(page_for: PageFor) -> Page:
    return await page_for()
