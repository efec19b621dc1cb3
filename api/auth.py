"""Who is calling: an app's device token (`Authorization: Bearer nbt_…`, no CSRF: a header a
browser never sends on its own), or the site's own session cookie (with Django's CSRF check on
unsafe methods, as every page form). A request with neither is 401 problem+json."""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from accounts.models import User
from accounts.services import device_token_authenticate
from neighborbid import security
from neighborbid.errors import LoginRequired, RateLimited


class DeviceTokenAuth(HttpBearer):
    """A bearer token from POST /api/v1/auth/token. A token that is sent but unknown, revoked or
    belongs to a deactivated account is 401 at once (not "try the cookie next")."""

    def authenticate(self, request: HttpRequest, token: str) -> User:
        user = device_token_authenticate(raw_token=token.strip())
        if user is None:
            raise AuthenticationError()
        request.user = user  # the request log and the doors see one user, however it signed in
        return user


class SiteSessionAuth(SessionAuth):
    """The site's session cookie, CSRF-checked by ninja on unsafe methods (403 without the
    token). Without a signed-in session it declines, so the answer is 401, not a CSRF 403."""

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super().__call__(request)


AUTH = [DeviceTokenAuth(), SiteSessionAuth()]


def actor(request: HttpRequest) -> User:
    """The signed-in user of an authenticated endpoint (re-read by every service it is passed to)."""
    user = getattr(request, "auth", None)  # set by ninja's authentication
    if not isinstance(user, User):
        raise LoginRequired()
    return user


def optional_user(request: HttpRequest) -> User | None:
    """The caller on a public endpoint, when one is signed in (token or session), else None. A
    bad token is 401 here too: an app should learn its token is dead."""
    if request.headers.get("Authorization"):
        token_user = AUTH[0](request)
        return token_user if isinstance(token_user, User) else None
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


def rate_limit(request: HttpRequest, scope: str, *, user: User) -> None:
    """The site's own bucket for this scope (neighborbid.security RATE_LIMITS), per user.
    Refused: RateLimited with `retry_after`, the seconds until one token is back."""
    spec = security.conf("RATE_LIMITS")[scope]
    try:
        security.rate_limit_request(request, scope, user_id=user.pk)
    except RateLimited:
        raise RateLimited(retry_after=max(1, math.ceil(1 / float(spec["rate"])))) from None


def rate_limit_bucket(*, key: str, rate: float, burst: int, message: str) -> None:
    """A bucket the pages take by key (chat's per-user buckets), with the same Retry-After."""
    from neighborbid.ratelimit import rate_limit_check

    try:
        rate_limit_check(key=key, rate=rate, burst=burst)
    except RateLimited:
        raise RateLimited(message, retry_after=max(1, math.ceil(1 / rate))) from None
