"""Operations middleware (all sync- and async-capable, so Daphne serves without a thread hop):

- HealthCheckMiddleware: answers /healthz and /readyz first (see neighborbid.health).
- RequestLogMiddleware: one structured log line per request (method, path, status, duration,
  user id, client IP, auction id when the URL names one, request id), and an X-Request-ID
  response header (taken from the proxy's header when it sends one).
- RateLimitMiddleware: the per-scope rate limits for the views named in
  NEIGHBORBID_SECURITY["RATE_LIMITED_VIEWS"] (POST only; answers 429 without calling the view;
  spent in process_view, after CsrfViewMiddleware has refused forged POSTs),
  and turns a login refused by the lockout (neighborbid.security) into a 429.
- DeviceCookieMiddleware: a random, long-lived device id per browser (the `nb_device` cookie),
  recorded at login (accounts.services.device_sighting_record) for the shill-bidding hard link.
- StaticFilesMiddleware: WhiteNoise, able to run in the async chain (static files in a thread).
- FriendlyNotFoundMiddleware: DEBUG only (`make run`): the Korean 404 page instead of Django's
  technical one, unless the URL asks for `?debug`.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
import uuid

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings as django_settings
from django.utils.functional import empty
from whitenoise.middleware import WhiteNoiseMiddleware

from neighborbid import security
from neighborbid.errors import RateLimited
from neighborbid.health import HEALTH_VIEWS
from neighborbid.ratelimit import rate_limit_hit_async

request_logger = logging.getLogger("neighborbid.request")
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
AUCTION_KWARGS = ("auction_id", "pk", "id")


class _HybridMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.acall(request)
        return self.call(request)


class HealthCheckMiddleware(_HybridMiddleware):
    def call(self, request):
        view = HEALTH_VIEWS.get(request.path_info.rstrip("/") or "/")
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)

    async def acall(self, request):
        view = HEALTH_VIEWS.get(request.path_info.rstrip("/") or "/")
        if view is not None and request.method in ("GET", "HEAD"):
            return await sync_to_async(view, thread_sensitive=False)(request)
        return await self.get_response(request)


def _known_user_id(request) -> int | None:
    """The user's id if this request already loaded it (never a query just for the log)."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty or wrapped is None:
        return None
    return wrapped.pk if getattr(wrapped, "is_authenticated", False) else None


def _auction_id(request) -> int | None:
    match = getattr(request, "resolver_match", None)
    if match is None or not (match.namespace == "auctions" or "auction_id" in match.kwargs):
        return None
    for key in AUCTION_KWARGS:
        value = match.kwargs.get(key)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    return None


class RequestLogMiddleware(_HybridMiddleware):
    def _start(self, request) -> tuple[float, str]:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex[:16]
        request.request_id = request_id
        return time.monotonic(), request_id

    def _finish(self, request, response, started: float, request_id: str) -> None:
        response["X-Request-ID"] = request_id
        status = response.status_code
        match = getattr(request, "resolver_match", None)
        fields = {
            "method": request.method,
            "path": request.path,
            "status": status,
            "ms": round((time.monotonic() - started) * 1000, 1),
            "user_id": _known_user_id(request),
            "ip": security.client_ip(request),
            "auction_id": _auction_id(request),
            "view": match.view_name if match else None,
            "request_id": request_id,
        }
        level = logging.WARNING if status >= 500 else logging.INFO
        request_logger.log(level, "request", extra={"fields": fields})

    def call(self, request):
        started, request_id = self._start(request)
        response = self.get_response(request)
        self._finish(request, response, started, request_id)
        return response

    async def acall(self, request):
        started, request_id = self._start(request)
        response = await self.get_response(request)
        self._finish(request, response, started, request_id)
        return response


class RateLimitMiddleware(_HybridMiddleware):
    """Must come after AuthenticationMiddleware (per-user buckets) and CsrfViewMiddleware: the
    bucket is spent in process_view, which Django calls in MIDDLEWARE order, so a forged POST
    without a CSRF token is refused (403) by CsrfViewMiddleware.process_view first and spends
    nobody's token."""

    def __init__(self, get_response):
        super().__init__(get_response)
        # Django adapts process_view to the handler's mode; give it the native one (no thread hop).
        self.process_view = self._process_view_async if self.is_async else self._process_view_sync

    @staticmethod
    def _scope(request) -> str | None:
        if request.method != "POST":
            return None
        views = security.conf("RATE_LIMITED_VIEWS")
        match = getattr(request, "resolver_match", None)
        if not views or match is None:
            return None
        return views.get(match.view_name)

    @staticmethod
    def _locked(request, response):
        lock = getattr(request, security.LOCKED_ATTR, None)
        if lock is not None and response.status_code == 200:
            response.status_code = 429
            response["Retry-After"] = str(lock.seconds)
        return response

    def _process_view_sync(self, request, view_func, view_args, view_kwargs):
        scope = self._scope(request)
        if scope is not None:
            try:
                security.rate_limit_request(request, scope)
            except RateLimited as exc:
                return security.rate_limited_response(request, exc)
        return None

    async def _process_view_async(self, request, view_func, view_args, view_kwargs):
        scope = self._scope(request)
        if scope is not None:
            user = await request.auser()
            spec = security.conf("RATE_LIMITS")[scope]
            key = security.rate_limit_key(request, scope, user.pk if user.is_authenticated else None)
            if not await rate_limit_hit_async(key=key, rate=float(spec["rate"]), burst=int(spec["burst"])):
                security.logger.warning("rate limited scope=%s key=%s", scope, key)
                # the page renders the site's header (a query): off the event loop, refusals only
                return await sync_to_async(security.rate_limited_response)(request, RateLimited())
        return None

    def call(self, request):
        return self._locked(request, self.get_response(request))

    async def acall(self, request):
        return self._locked(request, await self.get_response(request))


class FriendlyNotFoundMiddleware(_HybridMiddleware):
    """With DEBUG=1 (`make run`) Django answers a 404 with its technical page (in English);
    this serves the site's Korean 404 page (templates/404.html) there too, unless the
    developer asks for the technical one with `?debug` in the URL. Without DEBUG it is not
    loaded at all (MiddlewareNotUsed): handler404 serves templates/404.html already. 403 pages
    use handler403 (templates/403.html) under DEBUG as well; nothing to do for them."""

    def __init__(self, get_response):
        from django.conf import settings
        from django.core.exceptions import MiddlewareNotUsed

        if not settings.DEBUG:
            raise MiddlewareNotUsed
        super().__init__(get_response)

    @staticmethod
    def _friendly(request, response):
        if (
            response.status_code == 404
            and "debug" not in request.GET
            and response.get("Content-Type", "").startswith("text/html")
            and not getattr(response, "streaming", False)
        ):
            from django.views.defaults import page_not_found

            return page_not_found(request, exception=None)
        return response

    def call(self, request):
        return self._friendly(request, self.get_response(request))

    async def acall(self, request):
        response = await self.get_response(request)
        if response.status_code != 404:
            return response
        return await sync_to_async(self._friendly)(request, response)


DEVICE_COOKIE = "nb_device"
DEVICE_COOKIE_AGE = 2 * 365 * 24 * 3600


class DeviceCookieMiddleware(_HybridMiddleware):
    """Give each browser a random, long-lived device id (HttpOnly) and put it on the request as
    `request.nb_device_id`; the login receiver records it (accounts.device_sighting_record).
    Plumbing only: what a shared device means is the fraud rules' business."""

    def _start(self, request) -> bool:
        current = request.COOKIES.get(DEVICE_COOKIE, "")
        fresh = not (16 <= len(current) <= 64 and current.isalnum())
        request.nb_device_id = secrets.token_hex(16) if fresh else current
        return fresh

    def _finish(self, request, response, fresh: bool) -> None:
        if fresh:
            response.set_cookie(
                DEVICE_COOKIE,
                request.nb_device_id,
                max_age=DEVICE_COOKIE_AGE,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )

    def call(self, request):
        fresh = self._start(request)
        response = self.get_response(request)
        self._finish(request, response, fresh)
        return response

    async def acall(self, request):
        fresh = self._start(request)
        response = await self.get_response(request)
        self._finish(request, response, fresh)
        return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run in an async chain (issue 19 #3).

    WhiteNoise's middleware is sync-only, so under Daphne every request paid two extra thread
    hops around it (into a thread for the outer middlewares, back to the loop for the inner
    ones, then into a thread again for the view). Here a request that is not for a static file
    passes straight through on the loop; a static file is looked up and opened in a thread,
    exactly as WhiteNoise does it (same files, same headers, same autorefresh)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, settings=django_settings):
        super().__init__(get_response, settings=settings)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.acall(request)
        return super().__call__(request)

    def _static_response(self, request):
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        return self.serve(static_file, request) if static_file is not None else None

    async def acall(self, request):
        path = request.path_info
        if path in self.files or (self.autorefresh and path.startswith(self.static_prefix)):
            response = await sync_to_async(self._static_response, thread_sensitive=False)(request)
            if response is not None:
                return response
        return await self.get_response(request)
