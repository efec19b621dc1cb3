"""Under Daphne a request's middleware chain and view run as one sync call in the request's
thread (neighborbid/handlers.py, issue 19 #3): three thread hops per request where Django's
own ASGIHandler takes one or two per middleware. The async-capable WhiteNoise
(StaticFilesMiddleware) still serves static files in an async chain (AsyncClient's)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import pytest
from asgiref.sync import SyncToAsync, iscoroutinefunction, markcoroutinefunction
from channels.testing import HttpCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from neighborbid.handlers import OneHopASGIHandler
from neighborbid.middleware import StaticFilesMiddleware


class AsyncOnlyMiddleware:
    """A control: a middleware that cannot run sync is adapted (and Django logs it)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        return await self.get_response(request)


def _adaptations(caplog) -> tuple[list[str], OneHopASGIHandler]:
    """Build Daphne's handler (Django logs each sync/async adaptation, with DEBUG on)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="django.request"), override_settings(DEBUG=True):
        handler = OneHopASGIHandler()
    return [r.getMessage() for r in caplog.records if "adapted for middleware" in r.getMessage()], handler


def test_the_http_handler_builds_one_sync_chain_with_nothing_adapted(caplog, settings):
    # when Daphne's handler builds the chain, then it is one sync chain: nothing adapted
    adapted, handler = _adaptations(caplog)
    assert adapted == []
    assert not iscoroutinefunction(handler._middleware_chain)
    # (the control: an async-only middleware in the chain is adapted, and seen)
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.AsyncOnlyMiddleware"]
    adapted, _ = _adaptations(caplog)
    assert any("AsyncOnlyMiddleware" in message for message in adapted), adapted


@pytest.fixture
def hops(monkeypatch):
    """Counts sync_to_async calls (each one a hop into a thread and back); the calls go on
    unchanged."""
    counted = []
    original = SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        counted.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    return counted


async def _get(application, path: str) -> dict:
    communicator = HttpCommunicator(application, "GET", path, headers=[(b"host", b"testserver")])
    response = await communicator.get_response(timeout=10)
    await communicator.wait(timeout=10)  # the handler's end: the response's close
    return response


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_page_costs_three_thread_hops_under_daphne(hops):
    # given the application Daphne serves
    from neighborbid.asgi import application

    # when a page is asked for
    response = await _get(application, "/")
    # then it is served, with three hops: request_started, the chain and view, the close
    assert response["status"] == 200 and "동네".encode() in response["body"]
    assert len(hops) == 3, hops
    # (the control: Django's own ASGI handler hops around each middleware)
    hops.clear()
    response = await _get(ASGIHandler(), "/")
    assert response["status"] == 200
    assert len(hops) > 10, hops


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_requests_one_after_another_reuse_one_request_thread():
    # given the HTTP handler Daphne serves
    handler = OneHopASGIHandler()
    # when pages are asked for one after another
    for _ in range(5):
        response = await _get(handler, "/")
        assert response["status"] == 200
        # then the one request thread is back in the pool after each, and no other is made
        assert len(handler.idle_threads) == 1
    before = threading.active_count()
    for _ in range(5):
        await _get(handler, "/")
    assert threading.active_count() == before


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


def _slow_chain(handler: OneHopASGIHandler, seconds: float) -> list[int]:
    """The handler's sync chain replaced by one that takes `seconds` in its thread and records
    how many chains run at that moment (the view is not what is tested here: the turns are)."""
    running: list[int] = []
    now = [0]
    lock = threading.Lock()

    def chain(request):
        with lock:
            now[0] += 1
            running.append(now[0])
        time.sleep(seconds)
        with lock:
            now[0] -= 1
        return HttpResponse("page")

    handler.get_response = chain  # type: ignore[method-assign]
    return running


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_no_more_requests_run_their_chain_at_once_than_the_process_has_turns(settings):
    # given a process with two turns, and a chain that takes a while
    settings.HTTP_REQUEST_THREADS = 2
    handler = OneHopASGIHandler()
    running = _slow_chain(handler, 0.2)
    # when five requests come at once
    responses = await asyncio.gather(*(_get(handler, "/") for _ in range(5)))
    # then every one is served, never more than two chains at a time, and every turn is back
    assert [r["status"] for r in responses] == [200] * 5
    assert max(running) == 2 and len(running) == 5
    assert handler.request_turns._value == 2


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_request_that_waits_too_long_for_its_turn_is_a_503_with_the_reason(settings):
    # given one turn, held by a slow request, and a short bound on waiting for it
    settings.HTTP_REQUEST_THREADS = 1
    settings.HTTP_REQUEST_WAIT_S = 0.1
    handler = OneHopASGIHandler()
    running = _slow_chain(handler, 0.5)
    slow = asyncio.ensure_future(_get(handler, "/"))
    await asyncio.sleep(0.05)
    # when another request comes
    response = await _get(handler, "/auctions/")
    # then it is answered 503 with the reason and Retry-After, and its chain never ran
    assert response["status"] == 503
    assert "요청이 몰려".encode() in response["body"]
    assert (b"Retry-After", b"2") in [(k.title(), v) for k, v in response["headers"]]
    # and an app or a fetch asking for JSON gets the error as JSON
    communicator = HttpCommunicator(
        handler, "GET", "/api/v1/auctions/", headers=[(b"host", b"testserver"), (b"accept", b"application/json")]
    )
    answer = await communicator.get_response(timeout=10)
    assert answer["status"] == 503 and json.loads(answer["body"])["error"]["code"] == "busy"
    assert (await slow)["status"] == 200
    assert len(running) == 1
