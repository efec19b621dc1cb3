"""Abuse protection: the client's IP, login brute-force lockout and per-action rate limits.

Client IP: REMOTE_ADDR, unless `TRUSTED_PROXY_COUNT` (env) says how many reverse proxies of
ours stand in front; then the address that the outermost of them saw, counted from the right
of X-Forwarded-For (every proxy appends its peer). Whatever a client writes into the header
itself stays on the left and is never used, so a forged header cannot pick the IP.

Login lockout: failed logins are counted per username and per IP in Redis (fixed window,
shared by every server process); at the limit, every login for that username / from that IP is
refused for the rest of the window, even with the right password. Enforced by
`LoginThrottleBackend` (first in AUTHENTICATION_BACKENDS, before Django's ModelBackend) and the
login signals (connected in accounts.apps), so the site's login and the admin's are both
covered; the refused request answers 429 with Retry-After set to the real time left (see
neighborbid.middleware.RateLimitMiddleware), and the login forms (accounts.forms.LockoutAwareMixin)
say that the 아이디 is locked for N minutes instead of "wrong password".

Rate limits: token buckets (neighborbid.ratelimit) per scope ("signup" per IP, "topup" and
"bid" per user). Apply them with `rate_limit_request(request, scope)` inside a view (raises
RateLimited, a DomainError with http_status 429), the `@rate_limited(scope)` decorator, or by
URL name in settings (RATE_LIMITED_VIEWS, applied by the middleware to POSTs).

Like the rate limits, the lockout fails open when Redis is unreachable (and logs it).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from neighborbid.errors import RateLimited
from neighborbid.ratelimit import rate_limit_hit

logger = logging.getLogger("neighborbid.security")

DEFAULTS: dict = {
    "TRUSTED_PROXY_COUNT": 0,
    "LOGIN_FAILURES_PER_USERNAME": 5,
    "LOGIN_FAILURES_PER_IP": 50,
    "LOGIN_LOCKOUT_SECONDS": 15 * 60,
    # scope: tokens per second, burst, and what the bucket is per ("user" falls back to "ip"
    # for anonymous requests).
    "RATE_LIMITS": {
        "signup": {"rate": 10 / 3600, "burst": 10, "per": "ip"},
        "topup": {"rate": 1 / 6, "burst": 10, "per": "user"},
        "withdraw": {"rate": 1 / 6, "burst": 10, "per": "user"},
        "bid": {"rate": 5.0, "burst": 20, "per": "user"},
        "report": {"rate": 1 / 60, "burst": 10, "per": "user"},
        # neighbourhood verification: positions come from the browser, so trying many is limited
        "verify": {"rate": 1 / 60, "burst": 10, "per": "user"},
        # the nearest-동 proposals (one per page visit; a script walking the map is stopped)
        "nearby": {"rate": 1 / 6, "burst": 20, "per": "user"},
    },
    # URL name -> scope, limited on POST by the middleware (no change to the views needed).
    "RATE_LIMITED_VIEWS": {},
}

LOCKED_ATTR = "_neighborbid_login_locked"  # on the request: the LoginLock that refused it
LOCKED_MESSAGE = "로그인 시도가 너무 많아요. 잠시 뒤에 다시 시도해 주세요."


@dataclass(frozen=True)
class LoginLock:
    """Why and for how long logins are refused: per "user" (this 아이디) or per "ip"."""

    seconds: int
    by: str

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))

    @property
    def message(self) -> str:
        if self.by == "user":
            return (
                f"비밀번호를 여러 번 잘못 입력해서 이 아이디는 {self.minutes}분 동안 로그인이 잠겨 있어요. "
                f"{self.minutes}분 뒤에 다시 시도하거나 비밀번호를 재설정해 주세요."
            )
        return (
            f"이 곳에서 로그인 실패가 너무 많아서 {self.minutes}분 동안 로그인이 잠겨 있어요. "
            f"{self.minutes}분 뒤에 다시 시도해 주세요."
        )


def conf(name: str):
    return getattr(settings, "NEIGHBORBID_SECURITY", {}).get(name, DEFAULTS[name])


# --- client IP --------------------------------------------------------------------------------


def _valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def client_ip(request) -> str:
    remote = request.META.get("REMOTE_ADDR") or ""
    count = int(conf("TRUSTED_PROXY_COUNT") or 0)
    if count > 0:
        header = request.META.get("HTTP_X_FORWARDED_FOR", "")
        parts = [part.strip() for part in header.split(",") if part.strip()]
        if len(parts) >= count and _valid_ip(parts[-count]):
            return parts[-count]
    return remote or "unknown"


# --- fixed-window failure counters (Redis, or in-process without REDIS_URL) --------------------

_local: dict[str, tuple[int, float]] = {}
_local_lock = threading.Lock()


def _prefix() -> str:
    return f"{getattr(settings, 'BUS_PREFIX', 'nb')}:login"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _failure_keys(username: str, ip: str) -> list[str]:
    return [f"{_prefix()}:user:{_digest(username.strip().lower())}", f"{_prefix()}:ip:{_digest(ip)}"]


def _counts(keys: list[str]) -> list[tuple[int, float]]:
    """(count, seconds left in its window) per key."""
    if not settings.REDIS_URL:
        now = time.time()
        with _local_lock:
            entries = [_local.get(k, (0, 0.0)) for k in keys]
        return [(count, expires - now) if expires > now else (0, 0.0) for count, expires in entries]
    from neighborbid.bus import redis_client

    pipe = redis_client().pipeline(transaction=False)
    pipe.mget(keys)
    for key in keys:
        pipe.pttl(key)
    values, *ttls = pipe.execute()
    return [(int(value or 0), max(0, ttl) / 1000) for value, ttl in zip(values, ttls, strict=True)]


def _increment(keys: list[str], window: int) -> None:
    if not settings.REDIS_URL:
        now = time.time()
        with _local_lock:
            for key in keys:
                count, expires = _local.get(key, (0, 0.0))
                _local[key] = (count + 1, expires) if expires > now else (1, now + window)
        return
    from neighborbid.bus import redis_client

    pipe = redis_client().pipeline(transaction=True)
    for key in keys:
        pipe.set(key, 0, ex=window, nx=True)  # the window starts at the first failure
        pipe.incr(key)
    pipe.execute()


def login_lock(*, username: str, ip: str) -> LoginLock | None:
    """The lock refusing this login right now (with the real time left), or None."""
    try:
        (per_user, user_left), (per_ip, ip_left) = _counts(_failure_keys(username, ip))
    except Exception as exc:
        logger.warning("login throttle check failed open error=%s", exc)
        return None
    locks = []
    if per_user >= conf("LOGIN_FAILURES_PER_USERNAME"):
        locks.append(LoginLock(seconds=math.ceil(user_left) or 1, by="user"))
    if per_ip >= conf("LOGIN_FAILURES_PER_IP"):
        locks.append(LoginLock(seconds=math.ceil(ip_left) or 1, by="ip"))
    return max(locks, key=lambda lock: lock.seconds) if locks else None


def login_locked(*, username: str, ip: str) -> bool:
    return login_lock(username=username, ip=ip) is not None


def login_failed(*, username: str, ip: str) -> None:
    try:
        _increment(_failure_keys(username, ip), int(conf("LOGIN_LOCKOUT_SECONDS")))
    except Exception as exc:
        logger.warning("login throttle record failed error=%s", exc)


def login_succeeded(*, username: str) -> None:
    """A right password clears the username's count (not the IP's)."""
    key = _failure_keys(username, "")[0]
    try:
        if not settings.REDIS_URL:
            with _local_lock:
                _local.pop(key, None)
            return
        from neighborbid.bus import redis_client

        redis_client().delete(key)
    except Exception as exc:
        logger.warning("login throttle reset failed error=%s", exc)


def throttle_reset() -> None:
    """Forget every lockout and rate-limit bucket of this deployment prefix (tests, or an operator
    unlocking after an incident: `manage.py shell -c 'from neighborbid.security import
    throttle_reset; throttle_reset()'`)."""
    from neighborbid import ratelimit

    with _local_lock:
        _local.clear()
    with ratelimit._local_lock:
        ratelimit._local.clear()
    if settings.REDIS_URL:
        from neighborbid.bus import redis_client

        client = redis_client()
        prefix = getattr(settings, "BUS_PREFIX", "nb")
        for pattern in (f"{prefix}:login:*", f"{prefix}:rl:*"):
            keys = list(client.scan_iter(match=pattern, count=500))
            if keys:
                client.delete(*keys)


class LoginThrottleBackend(ModelBackend):
    """A gate listed first in AUTHENTICATION_BACKENDS, before ModelBackend: its authenticate()
    never logs anyone in; while a username or IP is locked out it stops authenticate()
    (PermissionDenied), so no backend checks the password. It inherits ModelBackend's get_user
    and permissions, so sessions naming it (Client.force_login uses the first backend) work.
    Failures and successes are counted by the signal receivers below (connected in
    accounts.apps), whatever login view or form was used."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        from django.contrib.auth import get_user_model

        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or username is None:
            return None  # no request (management commands, test Client.login): nothing to throttle by
        ip = client_ip(request)
        lock = login_lock(username=str(username), ip=ip)
        if lock is not None:
            setattr(request, LOCKED_ATTR, lock)
            logger.warning("login refused: locked out by=%s ip=%s", lock.by, ip)
            raise DjangoPermissionDenied(lock.message)
        return None


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    """user_login_failed receiver: count the failure (not the refusals of a locked login)."""
    from django.contrib.auth import get_user_model

    username = credentials.get("username") or credentials.get(get_user_model().USERNAME_FIELD)
    if request is None or not username or getattr(request, LOCKED_ATTR, False):
        return
    ip = client_ip(request)
    login_failed(username=str(username), ip=ip)
    logger.info("login failed ip=%s", ip)


def on_logged_in(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: a successful login clears that username's failures."""
    if request is not None and user is not None:
        login_succeeded(username=user.get_username())


# --- rate limits for views ----------------------------------------------------------------------


def rate_limit_key(request, scope: str, user_id: int | None) -> str:
    spec = conf("RATE_LIMITS")[scope]
    if spec.get("per", "user") == "user" and user_id is not None:
        return f"{scope}:user:{user_id}"
    return f"{scope}:ip:{client_ip(request)}"


def _user_id(request) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def rate_limit_request(request, scope: str, *, user_id: int | None = None) -> None:
    """Take one token from this request's bucket for `scope`; raise RateLimited when empty."""
    spec = conf("RATE_LIMITS")[scope]
    key = rate_limit_key(request, scope, user_id if user_id is not None else _user_id(request))
    if not rate_limit_hit(key=key, rate=float(spec["rate"]), burst=int(spec["burst"])):
        logger.warning("rate limited scope=%s key=%s", scope, key)
        raise RateLimited()


def rate_limited_response(request, exc: RateLimited | None = None) -> HttpResponse:
    """The 429 answer: JSON for fetch/XHR callers, a short page otherwise."""
    exc = exc or RateLimited()
    wants_json = "application/json" in request.headers.get("Accept", "") or (
        request.headers.get("X-Requested-With") == "XMLHttpRequest"
    )
    retry_after = 60
    response: HttpResponse
    if wants_json:
        response = JsonResponse({"ok": False, "error": exc.as_dict()}, status=429)
    else:
        # The site's own error page (templates/429.html, like 404/403): styled, readable on a phone.
        context = {"message": exc.message, "retry_after": retry_after, "retry_minutes": max(1, retry_after // 60)}
        response = HttpResponse(
            render_to_string("429.html", context, request=request),
            status=429,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(retry_after)
    return response


def rate_limited(scope: str, *, methods: tuple[str, ...] = ("POST",)):
    """View decorator: limit `methods` requests by `scope`; answers 429 and never calls the view
    when the bucket is empty (so nothing changes)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method in methods:
                try:
                    rate_limit_request(request, scope)
                except RateLimited as exc:
                    return rate_limited_response(request, exc)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
