"""Safety in chat: hide a message for oneself, block and unblock, report, and a moderator's
closing of a reported room."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_staff, access_user
from chat.models import Block, ChatReport, Message, MessageHide, Room
from chat.services._common import (
    MODERATE_PERM,
    _append,
    _publish,
    logger,
)
from neighborbid.errors import (
    ChatNotFound,
    InvalidRequest,
)

# --- safety -------------------------------------------------------------------------------------


def message_hide(*, actor: User, message_id: int) -> None:
    """Hide a message for oneself only: it stays for the other side and for moderators."""
    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        message = Message.objects.select_related("room").filter(pk=message_id).first()
        if message is None or user.pk not in (message.room.buyer_id, message.room.seller_id):
            raise ChatNotFound("메시지를 찾을 수 없어요.")
        try:
            with transaction.atomic():
                MessageHide.objects.create(user=user, message=message)
        except IntegrityError:
            pass  # hidden already


def user_block(*, actor: User, user_id: int) -> bool:
    """Block a neighbour: they can no longer message me or ask on my listings (our trades go
    on). True when newly blocked."""
    user = access_user(actor, allow_suspended=True)
    if user_id == user.pk:
        raise InvalidRequest("나 자신은 차단할 수 없어요.")
    if not User.objects.filter(pk=user_id).exists():
        raise InvalidRequest("차단할 사용자를 찾을 수 없어요.")
    try:
        with transaction.atomic():
            Block.objects.create(blocker=user, blocked_id=user_id)
    except IntegrityError:
        return False
    logger.info("chat block blocker=%s blocked=%s", user.pk, user_id)
    return True


def user_unblock(*, actor: User, user_id: int) -> bool:
    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        deleted, _ = Block.objects.filter(blocker=user, blocked_id=user_id).delete()
    return bool(deleted)


def chat_report_create(
    *, actor: User, room_id: int, reason: str, text: str = "", message_id: int | None = None
) -> ChatReport:
    """Report a message (or the whole room) to the moderators' chat report queue. From then on
    moderators may read the room."""
    user = access_user(actor, allow_suspended=True)
    if reason not in ChatReport.Reason.values:
        raise InvalidRequest("신고 사유를 골라 주세요.")
    text = (text or "").replace("\x00", "").strip()
    if len(text) > 2000:
        raise InvalidRequest("신고 내용은 2,000자 이하로 입력해 주세요.")
    with transaction.atomic():
        room = Room.objects.filter(pk=room_id).first()
        if room is None or user.pk not in (room.buyer_id, room.seller_id):
            raise ChatNotFound()
        message = None
        if message_id is not None:
            message = Message.objects.filter(pk=message_id, room=room).first()
            if message is None:
                raise InvalidRequest("신고할 메시지를 찾을 수 없어요.")
            if message.sender_id == user.pk:
                raise InvalidRequest("내가 보낸 메시지는 신고할 수 없어요.")
        report = ChatReport.objects.create(reporter=user, room=room, message=message, reason=reason, text=text)
    logger.info("chat report id=%s room=%s message=%s", report.pk, room_id, message_id)
    return report


def chat_report_resolve(*, report_id: int, staff_user: User, status: str) -> ChatReport:
    staff = access_staff(staff_user, perm="chat.change_chatreport")
    if status not in (ChatReport.Status.DISMISSED, ChatReport.Status.ACTIONED):
        raise InvalidRequest("신고 처리 결과를 골라 주세요.")
    with transaction.atomic():
        report = ChatReport.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            raise InvalidRequest("신고를 찾을 수 없어요.")
        report.status, report.handled_by = status, staff
        report.save(update_fields=["status", "handled_by"])
    return report


def room_close(*, staff_user: User, room_id: int, reason: str) -> Room:
    """A moderator closes a reported room: nobody can write in it any more; everything in it
    stays readable (evidence)."""
    staff = access_staff(staff_user, perm=MODERATE_PERM, message="채팅방을 닫을 권한이 없어요.")
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise InvalidRequest("닫는 이유를 적어 주세요.")
    if len(reason) > 500:
        raise InvalidRequest("닫는 이유는 500자 이하로 적어 주세요.")
    with transaction.atomic():
        room = Room.objects.select_for_update().filter(pk=room_id).first()
        # As the room page: a moderator reaches only a reported room, and never one they are
        # part of (no closing, no notice in one's own trade).
        if (
            room is None
            or staff.pk in (room.buyer_id, room.seller_id)
            or not ChatReport.objects.filter(room_id=room.pk).exists()
        ):
            raise ChatNotFound()
        if room.status == Room.Status.CLOSED:
            return room
        now = timezone.now()
        room.status, room.closed_at, room.closed_by, room.closed_reason = Room.Status.CLOSED, now, staff, reason
        room.save(update_fields=["status", "closed_at", "closed_by", "closed_reason"])
        _append(
            room, sender=None, now=now, kind=Message.Kind.SYSTEM, text=f"운영자가 채팅방을 닫았어요. 사유: {reason}"
        )
        _publish(room, {"type": "chat.closed", "room_id": room.pk, "reason": reason})
    logger.info("chat room closed id=%s staff=%s", room_id, staff.pk)
    return room
