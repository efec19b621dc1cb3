"""503, never 500, when the database is away or the server is overloaded (issue 9 item 7, issue 13 item 4).

A lost connection (django.db.OperationalError / InterfaceError: a terminated session, a
failover, a lock or statement timeout), a full pool (psycopg_pool.PoolTimeout) or a bound on
waiting bids (neighborbid.errors.ServiceUnavailable, e.g. Overloaded from auctions/admission.py)
is answered with 503, a short Korean page (or JSON for fetch callers) that says why, and
`Retry-After`. Nothing was changed: every write is one transaction, and the failed one rolled back.

- ServiceUnavailableMiddleware.process_exception catches these from any view;
- server_error (handler500) catches them when they escape a middleware (the session or the
  rate-limit lookup), and otherwise renders the usual 500 page.
The page is rendered without a request context: no user, no session, no query.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

from neighborbid.errors import ServiceUnavailable

logger = logging.getLogger("neighborbid.unavailable")


def _pool_timeout() -> tuple[type[BaseException], ...]:
    try:
        from psycopg_pool import PoolTimeout
    except ImportError:  # SQLite-only installs
        return ()
    return (PoolTimeout,)


UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ServiceUnavailable,
    *_pool_timeout(),
)


def is_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, UNAVAILABLE_ERRORS)


def as_service_unavailable(exc: BaseException) -> ServiceUnavailable:
    if isinstance(exc, ServiceUnavailable):
        return exc
    if isinstance(exc, OperationalError | InterfaceError):
        return ServiceUnavailable(
            "지금 데이터베이스에 연결하지 못해 요청을 처리하지 못했어요. "
            "아무것도 바뀌지 않았어요. 잠시 후 다시 시도해 주세요."
        )
    return ServiceUnavailable()


def unavailable_response(request, exc: BaseException) -> HttpResponse:
    error = as_service_unavailable(exc)
    retry_after = int(error.details.get("retry_after", ServiceUnavailable.retry_after))
    wants_json = request is not None and (
        "application/json" in request.headers.get("Accept", "")
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
    )
    if wants_json:
        response = JsonResponse({"ok": False, "error": error.as_dict()}, status=503)
    else:
        body = loader.get_template("503.html").render({"reason": error.message, "retry_after": retry_after})
        response = HttpResponse(body, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    logger.warning(
        "503 %s %s: %s: %s",
        getattr(request, "method", "-"),
        getattr(request, "path", "-"),
        type(exc).__name__,
        exc,
    )
    return response


class ServiceUnavailableMiddleware:
    """Turns the unavailability errors of a view into a 503 (sync and async)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction

        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_unavailable(exception):
            return unavailable_response(request, exception)
        return None


def server_error(request, template_name: str = defaults.ERROR_500_TEMPLATE_NAME):
    """handler500: an unavailability error that escaped a middleware is a 503 too."""
    exc = sys.exc_info()[1]
    if is_unavailable(exc):
        return unavailable_response(request, exc)
    return defaults.server_error(request, template_name=template_name)
