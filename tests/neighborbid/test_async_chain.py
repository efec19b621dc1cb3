"""Under Daphne the whole middleware chain runs on the event loop (issue 19 #3): no middleware
is adapted between sync and async (each adaptation was a thread hop per request), and the
async-capable WhiteNoise (StaticFilesMiddleware) still serves static files."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import iscoroutinefunction
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from neighborbid.middleware import StaticFilesMiddleware


def _adaptations(caplog) -> tuple[list[str], ASGIHandler]:
    """Build Daphne's handler (Django logs each sync/async adaptation, with DEBUG on)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="django.request"), override_settings(DEBUG=True):
        handler = ASGIHandler()
    return [r.getMessage() for r in caplog.records if "adapted for middleware" in r.getMessage()], handler


def test_no_middleware_is_adapted_in_the_async_chain(caplog, settings):
    # when Daphne's handler builds the chain, then it is one coroutine chain
    adapted, handler = _adaptations(caplog)
    assert adapted == []
    assert iscoroutinefunction(handler._middleware_chain)
    # (the control: WhiteNoise's own sync-only middleware in its place is adapted, and seen)
    settings.MIDDLEWARE = [
        "whitenoise.middleware.WhiteNoiseMiddleware" if m.endswith("StaticFilesMiddleware") else m
        for m in settings.MIDDLEWARE
    ]
    adapted, _ = _adaptations(caplog)
    assert any("WhiteNoiseMiddleware" in message for message in adapted), adapted


@pytest.mark.asyncio
@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
async def test_the_async_static_middleware_serves_a_file_and_passes_the_rest_through():
    passed = []

    async def inner(request):
        passed.append(request.path)
        return HttpResponse("page")

    middleware = StaticFilesMiddleware(inner)
    factory = RequestFactory()
    # a static file is served from the loop's side, with WhiteNoise's headers
    response = await middleware(factory.get("/static/css/app.css"))
    body = b"".join([chunk async for chunk in response] if response.is_async else list(response))
    assert response.status_code == 200 and b"{" in body
    assert response["Content-Type"].startswith("text/css")
    # anything else goes on down the chain, untouched
    response = await middleware(factory.get("/auctions/"))
    assert response.content == b"page" and passed == ["/auctions/"]
