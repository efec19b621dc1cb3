"""Chat pages over plain HTTP: the room list (나의 채팅), a room (works without JavaScript and
without Redis: POST, redirect; the page's script re-checks for new messages while visible
when its socket is not live), the JSON re-check, and the questions on a listing.

Each view parses input, calls one service or selector, and turns a DomainError into a
message and a redirect (or a JSON error with its status). No rule is decided here."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chat import selectors, services
from chat.models import ChatReport, Message, Room
from neighborbid.errors import ChatNotFound, DomainError, InvalidRequest, QuestionNotFound
from neighborbid.ratelimit import rate_limit_check


def _chat(name: str, default):
    return getattr(settings, "CHAT", {}).get(name, default)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _room_url(room_id: int) -> str:
    return reverse("chat:room", args=[room_id])


def _refuse(request, exc: DomainError, *, back: str):
    if _wants_json(request):
        return JsonResponse({"ok": False, "error": exc.as_dict()}, status=exc.http_status)
    if isinstance(exc, ChatNotFound | QuestionNotFound):
        raise Http404(exc.message)
    messages.error(request, exc.message)
    return redirect(back)


def _message_limit(request) -> None:
    rate_limit_check(
        key=f"chat-send:{request.user.pk}",
        rate=_chat("MESSAGE_RATE_PER_S", 1.0),
        burst=_chat("MESSAGE_BURST", 10),
        message="메시지를 너무 빨리 보내고 있어요. 잠시 후 다시 보내 주세요.",
    )


def _int(value, *, default: int | None = None) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if 0 <= number < 2**63 else default


# --- the room list ------------------------------------------------------------------------------


@login_required
@require_GET
def room_list(request):
    rooms = list(selectors.user_rooms(user_id=request.user.pk)[:100])
    for room in rooms:
        room.other = room.seller if room.buyer_id == request.user.pk else room.buyer
    today = timezone.localdate().strftime("%Y%m%d")
    return render(request, "chat/list.html", {"rooms": rooms, "today": today})


@login_required
@require_GET
def unread(request):
    by_room = selectors.unread_by_room(user_id=request.user.pk)
    return JsonResponse({"total": sum(by_room.values()), "rooms": {str(k): v for k, v in by_room.items()}})


@login_required
@require_GET
def trade_room(request, trade_id: int):
    """The chat of a trade: opened here if the trade predates chat."""
    try:
        room = services.chat_room_ensure(actor=request.user, trade_id=trade_id)
    except DomainError as exc:
        return _refuse(request, exc, back=reverse("chat:list"))
    return redirect(_room_url(room.pk))


# --- a room -------------------------------------------------------------------------------------


def _reader_room(request, room_id: int) -> Room:
    try:
        return selectors.room_for_reader(room_id=room_id, user=request.user)
    except ChatNotFound as exc:
        raise Http404(exc.message) from None


@login_required
@require_GET
def room(request, room_id: int):
    room = _reader_room(request, room_id)
    user = request.user
    role = selectors.room_role(room, user.pk)
    if role is not None and room.seq:
        try:
            services.room_mark_read(actor=user, room_id=room.pk, seq=room.seq)
        except DomainError:
            pass  # reading still works (e.g. deactivated mid-request: the next page says so)
        room.refresh_from_db(fields=["buyer_read_seq", "seller_read_seq"])
    other = room.seller if role == "buyer" else room.buyer
    page_messages = selectors.room_page_messages(room=room, user_id=user.pk if role else None)
    context = {
        "room": room,
        "role": role,
        "moderator_view": role is None,
        "other": other,
        "auction": room.trade.auction,
        "chat_messages": page_messages,
        "other_read_seq": (room.seller_read_seq if role == "buyer" else room.buyer_read_seq) if role else 0,
        "blocked_by_me": role is not None and selectors.is_blocked(blocker_id=user.pk, blocked_id=other.pk),
        "places": selectors.meeting_places(room=room) if role else [],
        "report_reasons": ChatReport.Reason.choices,
        "poll_s": _chat("POLL_S", 4),
        "can_close": role is None and user.has_perm(services.MODERATE_PERM),
        "now_local": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "text_max": 1000,
    }
    return render(request, "chat/room.html", context)


@login_required
@require_GET
def room_messages(request, room_id: int):
    """The light re-check: messages after `after` (JSON), for a page whose socket is not live."""
    room = _reader_room(request, room_id)
    role = selectors.room_role(room, request.user.pk)
    after = _int(request.GET.get("after"), default=0)
    items = selectors.room_messages_after(room=room, user_id=request.user.pk if role else None, after=after)
    return JsonResponse(
        {
            "room_id": room.pk,
            "seq": room.seq,
            "status": room.status,
            "messages": items,
            "more": bool(items) and items[-1]["seq"] < room.seq,
            "read": {"buyer": room.buyer_read_seq, "seller": room.seller_read_seq},
        }
    )


def _post_done(request, room_id: int, *, result=None, note: str | None = None):
    if _wants_json(request):
        body: dict = {"ok": True}
        if result is not None:
            body.update(seq=result.message.seq, duplicate=result.duplicate)
            body["warning"] = services.SAFE_PAY_WARNING if result.warning else None
        return JsonResponse(body)
    if result is not None and result.warning:
        messages.warning(request, services.SAFE_PAY_WARNING)
    if note:
        messages.success(request, note)
    return redirect(_room_url(room_id) + "#bottom")


@login_required
@require_POST
def send(request, room_id: int):
    try:
        _message_limit(request)
        result = services.message_send(
            actor=request.user,
            room_id=room_id,
            text=request.POST.get("text", ""),
            client_id=request.POST.get("client_id") or None,
        )
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return _post_done(request, room_id, result=result)


@login_required
@require_POST
def send_photo(request, room_id: int):
    upload = request.FILES.get("photo")
    try:
        if upload is None:
            raise InvalidRequest("보낼 사진을 골라 주세요.")
        _message_limit(request)
        result = services.message_send_photo(
            actor=request.user, room_id=room_id, upload=upload, client_id=request.POST.get("client_id") or None
        )
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return _post_done(request, room_id, result=result)


def _meet_at(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidRequest("약속 날짜와 시간을 골라 주세요.") from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


@login_required
@require_POST
def meeting_propose(request, room_id: int):
    try:
        _message_limit(request)
        spot = request.POST.get("neighbourhood") or ""
        result = services.meeting_propose(
            actor=request.user,
            room_id=room_id,
            meet_at=_meet_at(request.POST.get("meet_at", "")),
            place=request.POST.get("place", ""),
            neighbourhood_id=_int(spot, default=-1) if spot else None,
            client_id=request.POST.get("client_id") or None,
        )
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return _post_done(request, room_id, result=result)


@login_required
@require_POST
def meeting_accept(request, room_id: int, message_id: int):
    try:
        services.meeting_accept(actor=request.user, room_id=room_id, message_id=message_id)
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return _post_done(request, room_id, note="약속을 수락했어요.")


@login_required
@require_POST
def mark_read(request, room_id: int):
    try:
        seq = _int(request.POST.get("seq"))
        if seq is None:
            raise InvalidRequest("seq는 0 이상의 정수여야 해요.")
        mark = services.room_mark_read(actor=request.user, room_id=room_id, seq=seq)
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return JsonResponse({"ok": True, "seq": mark, "unread_total": selectors.unread_chat_count(user_id=request.user.pk)})


@login_required
@require_POST
def hide(request, room_id: int, message_id: int):
    try:
        if not Message.objects.filter(pk=message_id, room_id=room_id).exists():
            raise ChatNotFound("메시지를 찾을 수 없어요.")
        services.message_hide(actor=request.user, message_id=message_id)
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return _post_done(request, room_id, note="나에게서만 숨겼어요. 상대방과 운영자에게는 그대로 보여요.")


@login_required
@require_POST
def report(request, room_id: int):
    try:
        rate_limit_check(key=f"chat-report:{request.user.pk}", rate=1 / 60, burst=10)
        services.chat_report_create(
            actor=request.user,
            room_id=room_id,
            reason=request.POST.get("reason", ""),
            text=request.POST.get("text", ""),
            message_id=_int(request.POST.get("message_id"), default=-1) if request.POST.get("message_id") else None,
        )
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return _post_done(request, room_id, note="신고가 접수됐어요. 운영자가 대화를 확인할게요.")


@login_required
@require_POST
def block(request, room_id: int):
    try:
        room = selectors.room_participant(room_id=room_id, user_id=request.user.pk)
        if request.POST.get("undo"):
            services.user_unblock(actor=request.user, user_id=room.other_id(request.user.pk))
            note = "차단을 풀었어요."
        else:
            services.user_block(actor=request.user, user_id=room.other_id(request.user.pk))
            note = "차단했어요. 상대방은 더 이상 메시지를 보낼 수 없어요. 거래는 그대로 진행돼요."
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return _post_done(request, room_id, note=note)


@login_required
@require_POST
def close(request, room_id: int):
    try:
        services.room_close(staff_user=request.user, room_id=room_id, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        return _refuse(request, exc, back=_room_url(room_id))
    return _post_done(request, room_id, note="채팅방을 닫았어요.")


# --- questions on a listing ---------------------------------------------------------------------


def _auction_url(auction_id: int) -> str:
    return reverse("auctions:detail", args=[auction_id]) + "#questions"


@login_required
@require_POST
def question_ask(request, auction_id: int):
    try:
        rate_limit_check(
            key=f"chat-question:{request.user.pk}",
            rate=_chat("QUESTION_RATE_PER_S", 1 / 30),
            burst=_chat("QUESTION_BURST", 5),
            message="문의를 너무 자주 남기고 있어요. 잠시 후 다시 시도해 주세요.",
        )
        services.question_ask(actor=request.user, auction_id=auction_id, text=request.POST.get("text", ""))
    except DomainError as exc:
        return _refuse(request, exc, back=_auction_url(auction_id))
    messages.success(request, "문의를 남겼어요. 판매자가 답하면 알려 드릴게요.")
    return redirect(_auction_url(auction_id))


@login_required
@require_POST
def question_answer(request, question_id: int):
    from chat.models import Question

    auction_id = Question.objects.filter(pk=question_id).values_list("auction_id", flat=True).first()
    if auction_id is None:
        raise Http404(QuestionNotFound.message)
    try:
        services.question_answer(actor=request.user, question_id=question_id, text=request.POST.get("text", ""))
    except DomainError as exc:
        return _refuse(request, exc, back=_auction_url(auction_id))
    messages.success(request, "답변을 남겼어요.")
    return redirect(_auction_url(auction_id))
