"""The private room of a trade: opened with the trade, ensured on demand, and read marks."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.db import IntegrityError, connection, transaction

from accounts.models import User
from accounts.selectors import access_user
from auctions.events import send_user_event_on_commit
from chat.models import Room
from neighborbid.errors import (
    ChatNotFound,
    InvalidRequest,
)

if TYPE_CHECKING:
    from trades.models import Trade


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
