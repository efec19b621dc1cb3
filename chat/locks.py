"""Row locks for chat rooms. Must be called inside transaction.atomic().

A room is locked before anything is written in it: its `seq` numbers the messages, so the
numbers have no gaps and every side sees the same order. Nothing else is locked with it (a
room never locks a trade or a wallet), so there is no lock order to keep beyond "the room".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.db import connection

from chat.models import Block, Message, Room


@dataclass(frozen=True, slots=True)
class LockedRoom:
    """A locked room, with what a writer in it must know, read in the same statement: is a
    block between the writer and the other side (and who set it), and did this writer send a
    message with this client id before (a resend)."""

    room: Room
    blocked_by_me: bool
    blocked_me: bool
    earlier_id: int | None


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


_ROOM_FIELDS = [f.attname for f in Room._meta.concrete_fields]
_ROOM_COLUMNS = [str(f.column) for f in Room._meta.concrete_fields]
_BLOCK, _MESSAGE = Block._meta, Message._meta


_converters: dict[str, list] = {}


def _convert(index: int, value):
    """A raw column value as the ORM would give it (e.g. SQLite's datetimes come back as text;
    PostgreSQL's need nothing): the backend's and the field's own converters."""
    vendor = connection.vendor
    if vendor not in _converters:
        fields = Room._meta.concrete_fields
        _converters[vendor] = [
            (
                f.get_col(Room._meta.db_table),
                connection.ops.get_db_converters(f.get_col(Room._meta.db_table)) + f.get_db_converters(connection),
            )
            for f in fields
        ]
    column, converters = _converters[vendor][index]
    for converter in converters:
        value = converter(value, column, connection)
    return value


@functools.cache
def _lock_sql(vendor: str) -> str:
    block, blocker, blocked = _q(_BLOCK.db_table), _q("blocker_id"), _q("blocked_id")
    # A user never blocks themselves (the block_not_self constraint), so "a block from me to
    # either side" is "a block from me to the other side"; the same the other way round.
    return (
        f"SELECT {', '.join('r.' + _q(c) for c in _ROOM_COLUMNS)}, "  # noqa: S608 (names from meta)
        f"EXISTS (SELECT 1 FROM {block} b WHERE b.{blocker} = %(user)s AND b.{blocked} IN (r.buyer_id, r.seller_id)), "
        f"EXISTS (SELECT 1 FROM {block} b WHERE b.{blocked} = %(user)s AND b.{blocker} IN (r.buyer_id, r.seller_id)), "
        f"(SELECT m.id FROM {_q(_MESSAGE.db_table)} m WHERE m.room_id = r.id AND m.sender_id = %(user)s "
        "AND m.client_id = %(client_id)s AND m.client_id <> '' LIMIT 1) "
        f"FROM {_q(Room._meta.db_table)} r WHERE r.id = %(room)s"
        + (" FOR UPDATE OF r" if vendor == "postgresql" else "")
    )


def room_lock(*, room_id: int, user_id: int, client_id: str = "") -> LockedRoom | None:
    """The room's row, locked (SELECT … FOR UPDATE OF the room on PostgreSQL; SQLite's
    write transaction is the lock there), with the writer's block and resend checks as
    sub-selects of that one plain statement: one round trip and no ORM compile (the chat's
    hot path; docs/benchmarks.md, "Chat"). None when there is no such room.

    Under READ COMMITTED the room's own columns are re-read after a wait for the lock, but the
    sub-selects see the data as of the statement's start. So a block committed while this
    writer waited for the room is not seen (the message is ordered before the block, as it
    would have been a moment earlier), and a twin resend committed meanwhile is caught by the
    `message_client_id_once` constraint instead (chat.services.messages._twin)."""
    if not connection.in_atomic_block:
        raise RuntimeError("room_lock must run inside transaction.atomic()")  # the lock would end at once
    sql = _lock_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"user": user_id, "client_id": client_id, "room": room_id})
        row = cursor.fetchone()
    if row is None:
        return None
    count = len(_ROOM_FIELDS)
    values = [value if value is None else _convert(i, value) for i, value in enumerate(row[:count])]
    room = Room.from_db(connection.alias, _ROOM_FIELDS, values)
    blocked_by_me, blocked_me, earlier_id = row[count:]
    return LockedRoom(room=room, blocked_by_me=bool(blocked_by_me), blocked_me=bool(blocked_me), earlier_id=earlier_id)
