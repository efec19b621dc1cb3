"""A chat message is few statements (issue 11's latency at 200 messages/s): the acting user,
then under the room's lock two plain statements: the lock (with the block and resend checks
as sub-selects) and one write (the message and the room's counters). A resend and a refusal
write nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.models import Message, Room
from neighborbid.errors import ChatBlocked
from realtime.layer import user_group
from tests.chat.conftest import chat_world, make_sale

pytestmark = pytest.mark.django_db


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"] and q["sql"] != "BEGIN"]


def test_a_message_is_the_acting_user_a_locked_read_and_one_write():
    # given a trade's room
    sale = make_sale()
    # when the buyer writes
    with CaptureQueriesContext(connection) as ctx:
        sent = services.message_send(actor=sale.buyer, room_id=sale.room.pk, text="안녕하세요", client_id="a-1")
    # then: the acting user, the room locked with its checks, one write
    sql = _statements(ctx)
    assert len(sql) == 3, "\n".join(sql)
    assert "chat_block" in sql[1] and "chat_message" in sql[1] and sql[1].rstrip().endswith("FOR UPDATE OF r")
    assert sql[2].startswith('WITH m AS (INSERT INTO "chat_message"') and 'UPDATE "chat_room"' in sql[2]
    # and the one write did what the ORM's two did
    message = Message.objects.get(pk=sent.message.pk)
    assert (message.seq, message.sender_id, message.text, message.client_id) == (1, sale.buyer.pk, "안녕하세요", "a-1")
    room = Room.objects.get(pk=sale.room.pk)
    assert (room.seq, room.buyer_read_seq, room.seller_read_seq) == (1, 1, 0)
    assert room.last_message_at is not None and abs(room.last_message_at - message.created_at) < timedelta(seconds=1)


def test_a_resend_reads_the_first_message_and_writes_nothing():
    sale = make_sale()
    first = services.message_send(actor=sale.buyer, room_id=sale.room.pk, text="안녕하세요", client_id="a-1")
    before = chat_world()
    with CaptureQueriesContext(connection) as ctx:
        again = services.message_send(actor=sale.buyer, room_id=sale.room.pk, text="안녕하세요", client_id="a-1")
    assert again.duplicate and again.message.pk == first.message.pk
    sql = _statements(ctx)
    assert not any(s.startswith(("INSERT", "UPDATE", "WITH")) for s in sql), "\n".join(sql)
    assert chat_world() == before


def test_a_blocked_writer_is_refused_by_the_lock_statement_alone():
    sale = make_sale()
    services.user_block(actor=sale.seller, user_id=sale.buyer.pk)
    before = chat_world()
    with CaptureQueriesContext(connection) as ctx, pytest.raises(ChatBlocked):
        services.message_send(actor=sale.buyer, room_id=sale.room.pk, text="안녕하세요")
    sql = _statements(ctx)
    assert len(sql) == 2 and "FOR UPDATE OF r" in sql[1], "\n".join(sql)  # the user, the lock
    assert chat_world() == before


def test_a_read_mark_that_moves_is_one_update_and_one_event_to_the_other_side(django_capture_on_commit_callbacks):
    sale = make_sale()
    for text in ("하나", "둘"):
        services.message_send(actor=sale.seller, room_id=sale.room.pk, text=text)
    with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks() as callbacks:
        mark = services.room_mark_read(actor=sale.buyer, room_id=sale.room.pk, seq=99)
    sql = _statements(ctx)
    assert mark == 2 and len(sql) == 2 and sql[1].startswith("UPDATE chat_room SET"), "\n".join(sql)
    # the seller's pages show "읽음"; the buyer's own pages know what they showed
    assert [cb.args for cb in callbacks] == [
        ([user_group(sale.seller.pk)], {"type": "chat.read", "room_id": sale.room.pk, "reader": "buyer", "seq": 2})
    ]
    assert Room.objects.get(pk=sale.room.pk).buyer_read_seq == 2


def test_a_read_mark_that_does_not_move_writes_nothing_and_tells_nobody(django_capture_on_commit_callbacks):
    sale = make_sale()
    services.message_send(actor=sale.seller, room_id=sale.room.pk, text="하나")
    services.room_mark_read(actor=sale.buyer, room_id=sale.room.pk, seq=1)
    before = chat_world()
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.room_mark_read(actor=sale.buyer, room_id=sale.room.pk, seq=0) == 1
        assert services.room_mark_read(actor=sale.seller, room_id=sale.room.pk, seq=1) == 1  # sent it: read
    assert callbacks == [] and chat_world() == before
