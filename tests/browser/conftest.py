"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's sync API against
pytest-django's live server. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import missing

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    """Module-scoped on purpose: while Playwright's sync API is active, its event loop counts as
    running in this thread (asyncio.run() would fail), and the ORM's async-safety check must be
    off (the factories and asserts are plain synchronous calls). Both end with the module, so
    the async tests that run later in the session are unaffected."""
    if not Path(CHROMIUM).exists():
        missing(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def site(live_server, settings, tmp_path):
    """The live server with uploads served and without per-view rate limits (tested elsewhere)."""
    settings.ROOT_URLCONF = "tests.browser.urls"
    settings.NEIGHBORBID_SECURITY = {**getattr(settings, "NEIGHBORBID_SECURITY", {}), "RATE_LIMITED_VIEWS": {}}
    from django.urls import clear_url_caches

    clear_url_caches()
    # serve() reads MEDIA_ROOT from the view kwargs captured at import: point it at this test's.
    import tests.browser.urls as urls

    urls.urlpatterns[0].default_args["document_root"] = settings.MEDIA_ROOT
    yield live_server.url
    clear_url_caches()


@pytest.fixture
def shot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = True) -> Path:
        # Mobile-first: nothing may stick out sideways, down to a 360 px screen.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: the page is {overflow}px wider than the screen"
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(*, width: int = 390, height: int = 844, geolocation: dict | None = None):
        options = {"viewport": {"width": width, "height": height}, "locale": "ko-KR", "timezone_id": "Asia/Seoul"}
        if geolocation:
            options.update(geolocation=geolocation, permissions=["geolocation"])
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
