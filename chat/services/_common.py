"""What the chat services share: text cleaning and the contact warning, blocks, the locked room
of a write, the on-commit event to both sides, and the one-statement message write."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Q

from accounts.models import User
from auctions.events import send_room_event_on_commit
from chat.locks import LockedRoom, room_lock
from chat.models import Block, Message, Room
from chat.selectors import message_payload
from neighborbid.errors import (
    ChatBlocked,
    ChatClosed,
    ChatNotFound,
    InvalidMessage,
    InvalidRequest,
)
from notifications.services import chat_push_on_commit

if TYPE_CHECKING:
    pass

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
    send_room_event_on_commit(room_id=room.pk, event=event)


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
    if sender is not None:
        # the other side's phone, if their page is closed (decided when sending: issue 22)
        other = room.seller_id if sender.pk == room.buyer_id else room.buyer_id
        chat_push_on_commit(user_id=other, room_id=room.pk, message_id=message.pk)
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
