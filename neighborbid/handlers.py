"""Daphne's HTTP handler: Django's ASGIHandler with the middleware chain and the view run as
one sync call in the request's thread (issue 19 #3).

Under Django's own ASGIHandler the chain is async, and every middleware built on
MiddlewareMixin (security, CSP, sessions, locale, common, CSRF, auth, messages, clickjacking)
runs its process_request and process_response through sync_to_async: about twenty thread hops
per request, each a future, a queue put, a thread wake-up and a loop wake-up. py-spy on a
Daphne under `bench/http_bids.py` put half of the process's CPU in that plumbing. Our views
are sync anyway, so the request's thread (ThreadSensitiveContext: one per request, as before)
runs the whole sync chain, the same chain Django's test Client runs: three hops per request
(request_started, the chain, the response's close with request_finished).

Reading the body, the disconnect watch and writing the response stay on the event loop as
Django does them; an async view, if one is ever added, still works (Django runs it with
async_to_sync from the request's thread).

The request's thread is reused: Django gives each request a ThreadSensitiveContext, and
asgiref then starts a thread for it and another to join it at the end (py-spy: ~7 % of the
process). Here the context gets an idle one-thread executor from a small pool (asgiref's
`ThreadSensitiveContext(executor=…)`), still one request at a time per thread, and it goes back
to the pool when the request has ended, as a WSGI server's threads do.

At most HTTP_REQUEST_THREADS requests run their chain at once in a process (4 by default,
like a threaded WSGI server's few threads per process); the rest wait on the event loop,
having been read. Sixteen request threads in one process were slower than four: they fought
for the GIL, each handing it over at every database round trip (docs/benchmarks.md, issue 19
#3). A request that waits longer than HTTP_REQUEST_WAIT_S for its turn is answered 503 with
the reason and Retry-After, its view never run. The body is read before the turn is taken, so
a slow upload holds no turn. The turn covers everything the request's thread runs
(request_started, the chain and view, the response's close)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from types import SimpleNamespace

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler

from neighborbid.errors import ServerBusy
from neighborbid.unavailable import unavailable_response

IDLE_THREADS_KEPT = 64


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        # idle request threads (touched only on the event loop's thread)
        self.idle_threads: list[ThreadPoolExecutor] = []
        # the turns of the sync chain (taken and given back on the event loop's thread)
        self.request_turns = asyncio.Semaphore(settings.HTTP_REQUEST_THREADS)
        self.turn_wait_s = settings.HTTP_REQUEST_WAIT_S

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        turn: list[bool] = []  # read_body takes the request's turn and notes it here
        token = _TURN.set(turn)
        executor = self.idle_threads.pop() if self.idle_threads else ThreadPoolExecutor(1, "http-request")
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        except _Busy:
            await self.send_response(unavailable_response(_asked(scope), ServerBusy()), send)
        except BaseException:
            executor.shutdown(wait=False)  # its thread ends once its last call returns
            raise
        finally:
            _TURN.reset(token)
            if turn:
                self.request_turns.release()
        # Back to the pool only after a normal end: every sync call of the request has
        # returned by then (even after a disconnect, Django's request_finished waits behind
        # the view on this one thread).
        if len(self.idle_threads) < IDLE_THREADS_KEPT:
            self.idle_threads.append(executor)
        else:
            executor.shutdown(wait=False)

    async def read_body(self, receive):
        """Django's read of the whole body, then the request's turn (before request_started, the
        chain and the response's close: everything the request's thread runs)."""
        body = await super().read_body(receive)
        try:
            await asyncio.wait_for(self.request_turns.acquire(), self.turn_wait_s)
        except TimeoutError:
            body.close()
            raise _Busy from None
        _TURN.get().append(True)
        return body

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


class _Busy(Exception):
    """No turn came within HTTP_REQUEST_WAIT_S: the request is answered 503, its view never run."""


_TURN: ContextVar[list[bool]] = ContextVar("http_request_turn")


def _asked(scope) -> SimpleNamespace:
    """What unavailable_response reads of a request (its headers, to answer JSON to a fetch or
    an app; its method and path, for the log line), from the scope alone: no request was made."""
    headers = {name.decode("latin1").title(): value.decode("latin1") for name, value in scope.get("headers", [])}
    return SimpleNamespace(headers=headers, method=scope.get("method", "-"), path=scope.get("path", "-"))


def get_http_application() -> OneHopASGIHandler:
    """What django.core.asgi.get_asgi_application does, with this handler."""
    import django

    django.setup(set_prefix=False)
    return OneHopASGIHandler()
