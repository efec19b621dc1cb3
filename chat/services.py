"""Chat writes: listing questions and answers, the private room of a trade (messages, photos,
meeting proposals, read marks), and its safety (hide for oneself, block, report, close).

Each service re-reads the acting user (accounts.selectors.access_user), runs one
transaction.atomic (room_mark_read, one UPDATE, runs that statement on its own: it is atomic
by itself), raises a DomainError before anything is written, and sends its live events
only after commit (auctions.events.send_user_events_on_commit: one personal event per
participant, both published in one Redis round trip, delivered by each server process's hub
to that user's chat sockets).

A room's messages are numbered by the room's `seq`, taken under the room's row lock, so the
numbers have no gaps and every side sees the same order (docs/protocol.md, "Chat").
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Neighbourhood, User
from accounts.selectors import access_staff, access_user
from auctions.events import send_user_event_on_commit, send_user_events_on_commit
from auctions.models import Auction
from chat.locks import LockedRoom, room_lock
from chat.models import QUESTION_MAX, TEXT_MAX, Answer, Block, ChatReport, Message, MessageHide, Question, Room
from chat.selectors import message_payload
from neighborbid.errors import (
    AuctionNotOpen,
    ChatBlocked,
    ChatClosed,
    ChatNotFound,
    InvalidMessage,
    InvalidRequest,
    PermissionDenied,
    QuestionNotFound,
)
from notifications.models import Notification
from notifications.services import notification_create

if TYPE_CHECKING:
    from trades.models import Trade

logger = logging.getLogger("neighborbid.chat")

MODERATE_PERM = "chat.moderate_chat"
CLIENT_ID_MAX = 64
PLACE_MAX = 100

# A gentle warning, never a block: phone numbers (010-1234-5678, 02-123-4567, +82 10 …) and
# bank-account-like digit runs (110-123-456789, 10+ digits) in a message.
_PHONE = re.compile(r"(?<!\d)(?:\+?82[-. ]?|0)(?:1[016789]|2|[3-6][1-5]|70)[-. )]?\d{3,4}[-. ]?\d{4}(?!\d)")
_ACCOUNT = re.compile(r"(?<!\d)(?:\d{2,6}[- ]){2,3}\d{2,7}(?!\d)|(?<!\d)\d{10,14}(?!\d)")
SAFE_PAY_WARNING = "연락처나 계좌번호가 보여요. 돈은 직접 보내지 말고 안전결제를 이용하세요."


def contact_warning(text: str) -> bool:
    """Does the text carry something like a phone or bank account number?"""
    if _PHONE.search(text):
        return True
    for match in _ACCOUNT.finditer(text):
        if sum(c.isdigit() for c in match.group()) >= 10:
            return True
    return False


def _clean(text: object, *, label: str, max_length: int) -> str:
    if not isinstance(text, str):
        raise InvalidMessage(f"{label}을(를) 입력해 주세요.")
    text = text.replace("\x00", "").replace("\r\n", "\n").strip()
    if not text:
        raise InvalidMessage(f"{label}을(를) 입력해 주세요.")
    if len(text) > max_length:
        raise InvalidMessage(f"{label}은(는) {max_length:,}자 이하로 써 주세요.")
    return text


def _blocked_between(a: int, b: int) -> Block | None:
    return Block.objects.filter(Q(blocker_id=a, blocked_id=b) | Q(blocker_id=b, blocked_id=a)).first()


def _refuse_if_blocked(user_id: int, other_id: int) -> None:
    block = _blocked_between(user_id, other_id)
    if block is None:
        return
    if block.blocker_id == user_id:
        raise ChatBlocked.by_me()
    raise ChatBlocked()


# --- questions on a listing ---------------------------------------------------------------------


def question_ask(*, actor: User, auction_id: int, text: str) -> Question:
    """A signed-in, non-suspended neighbour (not the seller) asks publicly on a live listing;
    the seller is told."""
    user = access_user(actor)
    text = _clean(text, label="질문", max_length=QUESTION_MAX)
    with transaction.atomic():
        auction = Auction.objects.filter(pk=auction_id, is_hidden=False).first()
        if auction is None:
            raise AuctionNotOpen("문의할 수 없는 경매예요.")
        if auction.is_ended:
            raise AuctionNotOpen("끝난 경매에는 문의할 수 없어요.")
        if auction.seller_id == user.pk:
            raise PermissionDenied("내 경매에는 질문할 수 없어요. 설명을 고쳐 주세요.")
        _refuse_if_blocked(user.pk, auction.seller_id)
        question = Question.objects.create(auction=auction, asker=user, text=text)
        notification_create(
            user_ids=[auction.seller_id],
            kind=Notification.Kind.QUESTION,
            auction=auction,
            message=f"'{auction.title[:40]}'에 새 문의가 있어요: {text[:80]}",
        )
    return question


def question_answer(*, actor: User, question_id: int, text: str) -> Answer:
    """The seller answers in the question's thread; the asker is told."""
    user = access_user(actor)
    text = _clean(text, label="답변", max_length=QUESTION_MAX)
    with transaction.atomic():
        question = Question.objects.select_related("auction").filter(pk=question_id).first()
        if question is None or question.auction.is_hidden:
            raise QuestionNotFound()
        if question.auction.seller_id != user.pk:
            raise PermissionDenied("판매자만 답변할 수 있어요.")
        answer = Answer.objects.create(question=question, author=user, text=text)
        notification_create(
            user_ids=[question.asker_id],
            kind=Notification.Kind.ANSWER,
            auction=question.auction,
            message=f"'{question.auction.title[:40]}' 문의에 판매자가 답했어요: {text[:80]}",
        )
    return answer


# --- the room of a trade ------------------------------------------------------------------------


def chat_room_open_for_trade(*, trade: Trade) -> Room:
    """The trade's private room. Called by trades.services.trade_open inside the sale's
    transaction; idempotent (also opens, lazily, the room of a trade from before chat)."""
    room = Room.objects.filter(trade_id=trade.pk).first()
    if room is not None:
        return room
    try:
        with transaction.atomic():
            return Room.objects.create(trade_id=trade.pk, buyer_id=trade.buyer_id, seller_id=trade.seller_id)
    except IntegrityError:  # a twin request opened it first
        return Room.objects.get(trade_id=trade.pk)


def chat_room_ensure(*, actor: User, trade_id: int) -> Room:
    """The room of a trade for one of its two sides, opened now if the trade predates chat."""
    from trades.models import Trade

    user = access_user(actor, allow_suspended=True)
    trade = Trade.objects.filter(pk=trade_id).first()
    if trade is None or user.pk not in (trade.buyer_id, trade.seller_id):
        raise ChatNotFound()
    with transaction.atomic():
        return chat_room_open_for_trade(trade=trade)


@dataclass(frozen=True)
class SendResult:
    message: Message
    duplicate: bool
    warning: bool


def _locked_room(room_id: int, user: User, *, client_id: str = "") -> LockedRoom:
    """The room, locked for a write by one of its two sides, refused when closed or blocked
    (chat.locks.room_lock reads the block and resend checks with the lock: one statement)."""
    locked = room_lock(room_id=room_id, user_id=user.pk, client_id=client_id)
    if locked is None or user.pk not in (locked.room.buyer_id, locked.room.seller_id):
        raise ChatNotFound()
    if locked.room.status == Room.Status.CLOSED:
        raise ChatClosed()
    if locked.blocked_by_me:
        raise ChatBlocked.by_me()
    if locked.blocked_me:
        raise ChatBlocked()
    return locked


def _publish(room: Room, event: dict[str, Any]) -> None:
    send_user_events_on_commit(user_ids=[room.buyer_id, room.seller_id], event=event)


_MESSAGE_TABLE = Message._meta.db_table
_ROOM_TABLE = Room._meta.db_table
_MESSAGE_FIELDS = [f for f in Message._meta.concrete_fields if not f.primary_key]
_MESSAGE_COLUMNS = [str(f.column) for f in _MESSAGE_FIELDS]
_ROOM_COLUMN = {f.name: str(f.column) for f in Room._meta.concrete_fields}


def _write_message(message: Message, *, room_id: int, updates: dict[str, Any]) -> None:
    """Insert the message and move the room's counters. On PostgreSQL one statement (a
    data-modifying CTE: the insert, then the room's update; like `update()`, it sends no
    pre_save/post_save signals, and nothing listens for Message's); elsewhere the ORM's two."""
    if connection.vendor != "postgresql":
        message.save(force_insert=True)
        Room.objects.filter(pk=room_id).update(**updates)
        return
    quote = connection.ops.quote_name
    values = [f.get_db_prep_save(f.pre_save(message, True), connection) for f in _MESSAGE_FIELDS]
    columns = ", ".join(quote(column) for column in _MESSAGE_COLUMNS)
    sets = ", ".join(f"{quote(_ROOM_COLUMN[name])} = %s" for name in updates)
    sql = (
        f"WITH m AS (INSERT INTO {quote(_MESSAGE_TABLE)} ({columns}) "  # noqa: S608 (names from meta)
        f"VALUES ({', '.join(['%s'] * len(values))}) RETURNING id) "
        f"UPDATE {quote(_ROOM_TABLE)} SET {sets} WHERE id = %s RETURNING (SELECT id FROM m)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *updates.values(), room_id])
        (message.pk,) = cursor.fetchone()
    message._state.adding = False
    message._state.db = connection.alias


def _append(room: Room, *, sender: User | None, now: datetime, **fields: Any) -> Message:
    """Number and write one message in a locked room, mark it read for its sender, and
    announce it to both sides after commit."""
    room.seq += 1
    message = Message(room=room, seq=room.seq, sender=sender, **fields)
    updates: dict[str, Any] = {"seq": room.seq, "last_message_at": now}
    if sender is not None:
        read_field = "buyer_read_seq" if sender.pk == room.buyer_id else "seller_read_seq"
        updates[read_field] = room.seq
        setattr(room, read_field, room.seq)
    _write_message(message, room_id=room.pk, updates=updates)
    room.last_message_at = now
    _publish(room, {"type": "chat.message", "room_id": room.pk, "seq": room.seq, "message": message_payload(message)})
    return message


def _valid_client_id(client_id: str | None) -> str:
    if client_id is None or client_id == "":
        return ""
    if not isinstance(client_id, str) or len(client_id) > CLIENT_ID_MAX or not client_id.isprintable():
        raise InvalidRequest("요청 번호는 1~64자의 문자열이어야 해요.")
    return client_id


def _earlier(locked: LockedRoom) -> Message | None:
    """The message this writer sent before with the same client id (a resend), if any."""
    if locked.earlier_id is None:
        return None
    return Message.objects.select_related("room").get(pk=locked.earlier_id)


def _twin(error: IntegrityError, *, room_id: int, user: User, client_id: str) -> SendResult:
    """After a write refused by the one-message-per-client-id constraint: the twin request that
    committed it first (the lock's resend check reads as of its statement's start, so a twin
    committed while we waited for the lock is seen only by the constraint). Anything else is
    re-raised."""
    twin = None
    if client_id:
        twin = Message.objects.select_related("room").filter(room_id=room_id, sender=user, client_id=client_id).first()
    if twin is None:
        raise error
    return SendResult(twin, True, twin.warning)


def message_send(
    *,
    actor: User,
    room_id: int,
    text: str,
    client_id: str | None = None,
) -> SendResult:
    """A text message from one side of the room. The same `client_id` again returns the first
    message (a resend after a lost answer sends nothing twice). A phone or account number
    only sets the gentle warning."""
    user = access_user(actor)
    text = _clean(text, label="메시지", max_length=TEXT_MAX)
    client_id = _valid_client_id(client_id)
    warning = contact_warning(text)
    try:
        with transaction.atomic():
            locked = _locked_room(room_id, user, client_id=client_id)
            room, earlier = locked.room, _earlier(locked)
            if earlier is not None:
                return SendResult(earlier, True, earlier.warning)
            message = _append(
                room,
                sender=user,
                now=timezone.now(),
                kind=Message.Kind.TEXT,
                text=text,
                client_id=client_id,
                warning=warning,
            )
    except IntegrityError as error:
        return _twin(error, room_id=room_id, user=user, client_id=client_id)
    return SendResult(message, False, warning)


def message_send_photo(
    *, actor: User, room_id: int, upload: UploadedFile[Any], client_id: str | None = None
) -> SendResult:
    """A photo, through the listing photos' pipeline: checked and resized before the lock, the
    files written after commit (the row names them)."""
    from auctions.images import process_upload

    user = access_user(actor)
    client_id = _valid_client_id(client_id)
    processed = process_upload(upload)
    try:
        with transaction.atomic():
            locked = _locked_room(room_id, user, client_id=client_id)
            room, earlier = locked.room, _earlier(locked)
            if earlier is not None:
                return SendResult(earlier, True, False)
            stem = f"chat/{room.pk}/{uuid.uuid4().hex[:16]}"
            files = [(f"{stem}.jpg", processed.image), (f"{stem}_t.jpg", processed.thumbnail)]
            message = _append(
                room,
                sender=user,
                now=timezone.now(),
                kind=Message.Kind.PHOTO,
                image=files[0][0],
                thumbnail=files[1][0],
                client_id=client_id,
            )
            transaction.on_commit(lambda: _write_files(files), robust=True)
    except IntegrityError as error:
        return _twin(error, room_id=room_id, user=user, client_id=client_id)
    return SendResult(message, False, False)


def _write_files(files: Sequence[tuple[str, File[Any]]]) -> None:
    for name, content in files:
        stored = default_storage.save(name, content)
        if stored != name:  # random names: never expected
            logger.error("chat photo stored as %s instead of %s", stored, name)


def meeting_propose(
    *,
    actor: User,
    room_id: int,
    meet_at: datetime,
    place: str = "",
    neighbourhood_id: int | None = None,
    client_id: str | None = None,
) -> SendResult:
    """A meeting proposal: a place (free text, or one of the 동 offered for the seller) and a
    date and time in the future. The other side may accept it."""
    user = access_user(actor)
    client_id = _valid_client_id(client_id)
    if not isinstance(meet_at, datetime) or timezone.is_naive(meet_at):
        raise InvalidRequest("약속 날짜와 시간을 골라 주세요.")
    now = timezone.now()
    if meet_at <= now:
        raise InvalidRequest("약속 시간은 지금보다 뒤여야 해요.")
    if (meet_at - now).days > 60:
        raise InvalidRequest("약속은 60일 안으로 잡아 주세요.")
    place = (place or "").replace("\x00", "").strip()
    if len(place) > PLACE_MAX:
        raise InvalidRequest(f"장소는 {PLACE_MAX}자 이하로 써 주세요.")
    spot = None
    if neighbourhood_id is not None:
        spot = Neighbourhood.objects.filter(pk=neighbourhood_id).first()
        if spot is None:
            raise InvalidRequest("고를 수 있는 동네가 아니에요.")
    if not place and spot is None:
        raise InvalidRequest("만날 장소를 적거나 동네를 골라 주세요.")
    try:
        with transaction.atomic():
            locked = _locked_room(room_id, user, client_id=client_id)
            room = locked.room
            from trades.models import Trade

            if Trade.objects.filter(pk=room.trade_id, is_national=True).exists():
                raise InvalidRequest("택배 거래는 만날 약속 없이 발송 정보로 진행해요.")
            if spot is not None:
                from chat.selectors import meeting_places

                if spot.pk not in {n.pk for n in meeting_places(room=room)}:
                    raise InvalidRequest("고를 수 있는 동네가 아니에요.")
            earlier = _earlier(locked)
            if earlier is not None:
                return SendResult(earlier, True, earlier.warning)
            message = _append(
                room,
                sender=user,
                now=now,
                kind=Message.Kind.MEETING,
                place=place,
                place_neighbourhood=spot,
                meet_at=meet_at,
                client_id=client_id,
                warning=contact_warning(place),
            )
    except IntegrityError as error:
        return _twin(error, room_id=room_id, user=user, client_id=client_id)
    return SendResult(message, False, message.warning)


def meeting_accept(*, actor: User, room_id: int, message_id: int) -> Room:
    """The other side accepts a proposal: it becomes the room's meeting (shown on the trade
    page), and a short notice joins the conversation."""
    user = access_user(actor)
    with transaction.atomic():
        room = _locked_room(room_id, user).room
        proposal = Message.objects.filter(pk=message_id, room=room, kind=Message.Kind.MEETING).first()
        if proposal is None:
            raise InvalidRequest("약속 제안을 찾을 수 없어요.")
        if proposal.sender_id == user.pk:
            raise PermissionDenied("내가 보낸 제안은 상대방이 수락해요.")
        if proposal.accepted_at is not None:
            raise InvalidRequest("이미 수락한 약속이에요.")
        now = timezone.now()
        if proposal.meet_at is not None and proposal.meet_at <= now:
            raise InvalidRequest("약속 시간이 이미 지났어요. 새로 제안해 주세요.")
        proposal.accepted_at = now
        Message.objects.filter(pk=proposal.pk).update(accepted_at=now)
        Room.objects.filter(pk=room.pk).update(meeting=proposal)
        room.meeting = proposal
        _append(room, sender=user, now=now, kind=Message.Kind.SYSTEM, text="약속을 수락했어요.")
        _publish(
            room,
            {"type": "chat.meeting", "room_id": room.pk, "seq": proposal.seq, "message": message_payload(proposal)},
        )
    return room


_MOVE_READ_MARK = (  # noqa: S608 (the table name from meta)
    # One statement moves this side's mark (never beyond the last message, never back) and
    # says where both marks are; no row: not a side of the room, or nothing to move.
    "UPDATE {room} SET "
    "buyer_read_seq = CASE WHEN buyer_id = %(user)s THEN {mark} ELSE buyer_read_seq END, "
    "seller_read_seq = CASE WHEN seller_id = %(user)s THEN {mark} ELSE seller_read_seq END "
    "WHERE id = %(room)s AND ((buyer_id = %(user)s AND buyer_read_seq < {mark}) "
    "OR (seller_id = %(user)s AND seller_read_seq < {mark})) "
    "RETURNING buyer_id, seller_id, buyer_read_seq, seller_read_seq"
).format(room=Room._meta.db_table, mark="(CASE WHEN %(seq)s < seq THEN %(seq)s ELSE seq END)")


def room_mark_read(*, actor: User, room_id: int, seq: int) -> int:
    """This side has read the room up to `seq` (never beyond its last message, never back).
    Returns the read mark; the other side hears it ("읽음") after commit.

    Every message shown on an open page sends one, so this is a hot path: when the mark moves
    it is ONE statement, run on its own (a single UPDATE is atomic by itself, so there is no
    BEGIN/COMMIT round trip around it, and its event goes out once it has committed); when
    it does not move, one read says why."""
    user = access_user(actor, allow_suspended=True)
    if type(seq) is not int or seq < 0:
        raise InvalidRequest("seq는 0 이상의 정수여야 해요.")
    with connection.cursor() as cursor:
        cursor.execute(_MOVE_READ_MARK, {"user": user.pk, "room": room_id, "seq": seq})
        row = cursor.fetchone()
    if row is None:  # not moved: not a side of this room, or the mark is there already
        room = Room.objects.filter(pk=room_id).first()
        if room is None or user.pk not in (room.buyer_id, room.seller_id):
            raise ChatNotFound()
        return room.buyer_read_seq if user.pk == room.buyer_id else room.seller_read_seq
    buyer_id, seller_id, buyer_mark, seller_mark = cast(tuple[int, int, int, int], row)
    role, mark, other_id = (
        ("buyer", buyer_mark, seller_id) if user.pk == buyer_id else ("seller", seller_mark, buyer_id)
    )
    # Only the other side shows "읽음"; the reader's own pages know what they have shown.
    send_user_event_on_commit(
        user_id=other_id, event={"type": "chat.read", "room_id": room_id, "reader": role, "seq": mark}
    )
    return mark


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
