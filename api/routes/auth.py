"""Sign-in for apps: device tokens (POST /auth/token), the device list, revoking one or all."""

from __future__ import annotations

from django.contrib.auth import authenticate, user_logged_in
from django.http import HttpRequest
from ninja import Router, Status

from accounts.models import DeviceToken, User
from accounts.services import device_token_create, device_token_hash, device_token_revoke, user_logout_everywhere
from api.auth import actor
from api.schemas import DeviceOut, LogoutEverywhereOut, TokenIn, TokenOut, problems
from neighborbid import security
from neighborbid.errors import InvalidLogin, LoginLocked

router = Router(tags=["auth"])


def _current_hash(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return device_token_hash(token.strip()) if scheme.lower() == "bearer" and token.strip() else None


def _device(token: DeviceToken, *, current_hash: str | None) -> DeviceOut:
    return DeviceOut(
        id=token.pk,
        name=token.name,
        created_at=token.created_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
        current=current_hash is not None and token.token_hash == current_hash,
    )


@router.post(
    "/token", auth=None, response={201: TokenOut, **problems(400, 401, 422, 429)}, summary="앱 로그인: 기기 토큰 받기"
)
def token_create(request: HttpRequest, data: TokenIn):
    """The login page's check and lock-out (neighborbid.security: failures counted per 아이디 and
    per IP; while locked, 429 with Retry-After even with the right password). A success counts
    as a login (`user_logged_in`: the failure count is cleared, the device sighting noted)."""
    user = authenticate(request, username=data.username, password=data.password)
    if not isinstance(user, User):
        lock = getattr(request, security.LOCKED_ATTR, None)
        if lock is not None:
            raise LoginLocked(lock.message, retry_after=lock.seconds)
        raise InvalidLogin()
    token, raw = device_token_create(actor=user, name=data.device_name)
    user_logged_in.send(sender=type(user), request=request, user=user)
    return Status(201, TokenOut(token=raw, device=_device(token, current_hash=None)))


@router.get("/devices", response={200: list[DeviceOut], **problems(401)}, summary="내 앱 로그인 기기 목록")
def devices_list(request: HttpRequest):
    current = _current_hash(request)
    rows = DeviceToken.objects.filter(user_id=actor(request).pk, revoked_at__isnull=True).order_by("-created_at", "-id")
    return [_device(row, current_hash=current) for row in rows]


@router.delete("/devices/{device_id}", response={204: None, **problems(401, 403, 404)}, summary="기기 로그아웃")
def device_revoke(request: HttpRequest, device_id: int):
    device_token_revoke(actor=actor(request), token_id=device_id)
    return Status(204, None)


@router.post(
    "/logout-everywhere", response={200: LogoutEverywhereOut, **problems(401, 403)}, summary="모든 기기에서 로그아웃"
)
def logout_everywhere(request: HttpRequest):
    """Every app token and every browser session of mine ends (this request's own session too:
    with a cookie, sign in again)."""
    revoked = user_logout_everywhere(actor=actor(request))
    return LogoutEverywhereOut(devices_revoked=revoked)
