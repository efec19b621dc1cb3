"""Web Push doors (issue 22): the service worker at the site's root, subscribe/unsubscribe (JSON,
session + CSRF, called by static/js/push.js) and the per-kind / quiet-hours form of the account
page. Each parses, calls one service and maps a DomainError to a 4xx."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from neighborbid.errors import DomainError, InvalidRequest, LoginRequired
from notifications.services import push_preference_update, push_subscription_delete, push_subscription_save


@require_GET
def service_worker(request):
    """/sw.js: served from the root so its scope covers the whole site (a worker under /static/
    could only control /static/). No long cache: browsers check it for updates."""
    found = finders.find("js/sw.js")
    path = Path(found) if isinstance(found, str) else Path(settings.STATIC_ROOT or "") / "js" / "sw.js"
    if not path.is_file():
        raise Http404
    response = HttpResponse(path.read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response


def _json_body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest() from exc
    if not isinstance(body, dict):
        raise InvalidRequest()
    return body


def _error(exc: DomainError) -> JsonResponse:
    status = 401 if isinstance(exc, LoginRequired) else exc.http_status
    return JsonResponse({"ok": False, **exc.as_dict()}, status=status)


@require_POST
def push_subscribe(request):
    try:
        body = _json_body(request)
        keys = body.get("keys")
        if not isinstance(keys, dict):
            raise InvalidRequest()
        fields = (body.get("endpoint"), keys.get("p256dh"), keys.get("auth"))
        if not all(isinstance(value, str) for value in fields):
            raise InvalidRequest()
        sub = push_subscription_save(
            user=request.user,
            endpoint=body["endpoint"],
            p256dh=keys["p256dh"],
            auth=keys["auth"],
            user_agent=request.headers.get("User-Agent", ""),
        )
    except DomainError as exc:
        return _error(exc)
    return JsonResponse({"ok": True, "id": sub.pk}, status=201)


@require_POST
def push_unsubscribe(request):
    try:
        body = _json_body(request)
        endpoint = body.get("endpoint")
        if not isinstance(endpoint, str):
            raise InvalidRequest()
        deleted = push_subscription_delete(user=request.user, endpoint=endpoint)
    except DomainError as exc:
        return _error(exc)
    return JsonResponse({"ok": True, "deleted": deleted})


def _parse_time(value: str | None, default: datetime.time) -> datetime.time:
    if not value:
        return default
    try:
        return datetime.time.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest("시간은 21:00처럼 입력해 주세요.") from exc


@login_required
@require_POST
def push_preferences(request):
    from notifications.models import Notification

    on = set(request.POST.getlist("kinds"))
    try:
        push_preference_update(
            user=request.user,
            disabled_kinds=[kind for kind in Notification.Kind.values if kind not in on],
            quiet_start=_parse_time(request.POST.get("quiet_start"), datetime.time(21, 0)),
            quiet_end=_parse_time(request.POST.get("quiet_end"), datetime.time(8, 0)),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "알림 설정을 저장했어요.")
    return redirect("accounts:profile")
