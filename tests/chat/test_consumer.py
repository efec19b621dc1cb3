"""The chat door `ws/chat/<room>/` through the real ASGI stack (Origin check, session, router)
with WebsocketCommunicator, on PostgreSQL and the Redis bus (transaction=True: on_commit runs
and events go through Redis to this process's hub)."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from chat import services
from chat.models import Message, Room
from realtime.layer import room_group
from tests import factories as f
from tests.chat.conftest import make_sale
from tests.realtime.conftest import ORIGIN, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


async def chat_socket(room_id: int, user=None, *, origin: bytes | None = ORIGIN):
    from neighborbid.asgi import application

    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin))
    if user is not None:
        cookie = await session_cookie(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, f"/ws/chat/{room_id}/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def joined(room_id: int, user, *, seq: int = 0):
    """A socket that said `ready` and synced from `seq`; returns (socket, ready, sync)."""
    sock, connected, _ = await chat_socket(room_id, user)
    assert connected
    ready = await sock.receive_json_from(timeout=5)
    assert ready["type"] == "ready", ready
    await sock.send_json_to({"type": "sync", "request_id": "s1", "seq": seq})
    sync = await sock.receive_json_from(timeout=5)
    assert sync["type"] == "sync", sync
    return sock, ready, sync


async def until(sock, predicate, timeout: float = 5.0) -> dict:
    while True:
        frame = await sock.receive_json_from(timeout=timeout)
        if predicate(frame):
            return frame


async def closed_with(sock) -> int:
    frame = await sock.receive_output(timeout=5)
    while frame["type"] != "websocket.close":
        frame = await sock.receive_output(timeout=5)
    return frame.get("code")


async def test_a_message_from_one_side_reaches_the_other_and_the_read_mark_comes_back():
    sale = await db(make_sale)()
    buyer, ready, sync = await joined(sale.room.pk, sale.buyer)
    seller, _, _ = await joined(sale.room.pk, sale.seller)
    assert ready["you"] == "buyer" and sync["messages"] == []

    await buyer.send_json_to({"type": "send", "request_id": "m-1", "text": "<script>x</script> 의자 있나요?"})
    # the sender gets its ack and its own message (in either order: the bus may be quicker)
    frames = {}
    while len(frames) < 2:
        frame = await buyer.receive_json_from(timeout=5)
        frames[frame["type"]] = frame
    assert frames["ack"] == {"type": "ack", "request_id": "m-1", "seq": 1, "duplicate": False, "warning": None}
    assert frames["message"]["message"]["seq"] == 1 and frames["message"]["message"]["client_id"] == "m-1"
    got = await until(seller, lambda m: m["type"] == "message")
    assert got["message"]["text"] == "<script>x</script> 의자 있나요?" and got["message"]["sender"] == "buyer"

    await seller.send_json_to({"type": "read", "seq": 1})
    read = await until(buyer, lambda m: m["type"] == "read")
    assert (read["reader"], read["seq"]) == ("seller", 1)
    await buyer.disconnect()
    await seller.disconnect()


async def test_a_read_mark_is_answered_with_the_readers_unread_total_for_the_badge():
    # given a seller with two rooms: two messages waiting in this one, one in another
    sale = await db(make_sale)()
    other = await db(make_sale)(seller=sale.seller, title="책장")
    for text in ("하나", "둘"):
        await db(services.message_send)(actor=sale.buyer, room_id=sale.room.pk, text=text)
    await db(services.message_send)(actor=other.buyer, room_id=other.room.pk, text="셋")
    seller, _, sync = await joined(sale.room.pk, sale.seller)
    assert [m["seq"] for m in sync["messages"]] == [1, 2]
    # when the seller's page has shown both and says so
    await seller.send_json_to({"type": "read", "seq": 2})
    # then the answer is the badge: only the other room's message is still waiting
    unread = await until(seller, lambda m: m["type"] == "unread")
    assert unread == {"type": "unread", "room_id": sale.room.pk, "seq": 2, "total": 1}
    # and a mark that does not move answers the same, writing nothing
    await seller.send_json_to({"type": "read", "seq": 1})
    again = await until(seller, lambda m: m["type"] == "unread")
    assert (again["seq"], again["total"]) == (2, 1)
    room = await db(Room.objects.get)(pk=sale.room.pk)
    assert (room.seller_read_seq, room.buyer_read_seq, room.seq) == (2, 2, 2)
    await seller.disconnect()


async def test_sync_after_a_reconnect_gives_exactly_what_was_missed():
    sale = await db(make_sale)()
    for text in ("하나", "둘", "셋"):
        await db(services.message_send)(actor=sale.seller, room_id=sale.room.pk, text=text)
    buyer, _, sync = await joined(sale.room.pk, sale.buyer, seq=1)
    assert [m["text"] for m in sync["messages"]] == ["둘", "셋"] and sync["seq"] == 3 and not sync["more"]
    await buyer.disconnect()


async def test_a_gap_on_the_bus_is_filled_from_the_database_in_order():
    """Two processes' publishes can cross, and an event can be lost while Redis is away: the
    socket never skips a number."""
    sale = await db(make_sale)()
    buyer, _, _ = await joined(sale.room.pk, sale.buyer)
    # Messages 1 and 2 committed while their events were lost (written around the bus)...
    for seq, text in ((1, "첫째"), (2, "둘째")):
        await db(Message.objects.create)(room_id=sale.room.pk, seq=seq, sender=sale.seller, text=text)
    await db(type(sale.room).objects.filter(pk=sale.room.pk).update)(seq=2)
    # ...then message 3's event arrives first (through the room's group on the real layer).
    await get_channel_layer().group_send(
        room_group(sale.room.pk),
        {
            "type": "room.event",
            "event": {
                "type": "chat.message",
                "room_id": sale.room.pk,
                "seq": 3,
                "message": {"seq": 3, "text": "셋째", "id": 0},
            },
        },
    )
    await db(Message.objects.create)(room_id=sale.room.pk, seq=3, sender=sale.seller, text="셋째")
    await db(type(sale.room).objects.filter(pk=sale.room.pk).update)(seq=3)
    seqs = []
    while len(seqs) < 3:
        frame = await until(buyer, lambda m: m["type"] == "message")
        seqs.append(frame["message"]["seq"])
    assert seqs == [1, 2, 3]
    await buyer.disconnect()


async def test_strangers_anonymous_and_foreign_origins_are_refused():
    sale = await db(make_sale)()
    stranger = await db(f.make_user)()
    sock, connected, _ = await chat_socket(sale.room.pk, stranger)
    assert connected and await closed_with(sock) == 4404
    sock, connected, _ = await chat_socket(sale.room.pk, None)
    assert connected and await closed_with(sock) == 4401
    sock, connected, _ = await chat_socket(10**9, sale.buyer)
    assert connected and await closed_with(sock) == 4404
    _, connected, _ = await chat_socket(sale.room.pk, sale.buyer, origin=b"http://evil.example")
    assert not connected


async def test_bad_frames_get_errors_and_nothing_is_written():
    sale = await db(make_sale)()
    buyer, _, _ = await joined(sale.room.pk, sale.buyer)
    for payload, code in (
        ("not json", "bad_frame"),
        ('{"type":"send","request_id":"a","text":"x","text":"y"}', "bad_frame"),
        ('{"type":"shout","request_id":"a"}', "unknown_type"),
        ('{"type":"send","request_id":"a","text":""}', "invalid_message"),
        ('{"type":"send","request_id":"a","text":5}', "invalid_message"),
        (json.dumps({"type": "send", "request_id": "a", "text": "x" * 1001}), "invalid_message"),
        ('{"type":"sync","seq":1.5}', "invalid_request"),
        ('{"type":"read","seq":-1}', "invalid_request"),
    ):
        await buyer.send_to(text_data=payload)
        frame = await until(buyer, lambda m: m["type"] == "error")
        assert frame["code"] == code, (payload, frame)
    assert await db(Message.objects.count)() == 0
    await buyer.disconnect()


async def test_the_socket_message_limit_is_per_user(settings):
    settings.CHAT = {**settings.CHAT, "MESSAGE_BURST": 2, "MESSAGE_RATE_PER_S": 0.001}
    sale = await db(make_sale)()
    buyer, _, _ = await joined(sale.room.pk, sale.buyer)
    codes = []
    for n in range(3):
        await buyer.send_json_to({"type": "send", "request_id": f"r-{n}", "text": f"{n}"})
        frame = await until(buyer, lambda m: m["type"] in ("ack", "error"))
        codes.append(frame.get("code", "ack"))
    assert codes == ["ack", "ack", "rate_limited"]
    assert await db(Message.objects.count)() == 2
    await buyer.disconnect()


async def test_a_blocked_sender_gets_an_error_frame_and_a_closed_room_says_so():
    sale = await db(make_sale)()
    await db(services.user_block)(actor=sale.seller, user_id=sale.buyer.pk)
    buyer, _, _ = await joined(sale.room.pk, sale.buyer)
    await buyer.send_json_to({"type": "send", "request_id": "b-1", "text": "안녕하세요"})
    frame = await until(buyer, lambda m: m["type"] == "error")
    assert frame["code"] == "blocked" and frame["request_id"] == "b-1"
    await db(services.chat_report_create)(actor=sale.seller, room_id=sale.room.pk, reason="abuse")
    moderator = await db(f.make_moderator)()
    await db(services.room_close)(staff_user=moderator, room_id=sale.room.pk, reason="욕설")
    closed = await until(buyer, lambda m: m["type"] == "closed")
    assert closed["reason"] == "욕설"
    assert await db(Message.objects.filter(kind="text").count)() == 0
    await buyer.disconnect()


async def test_a_logout_elsewhere_closes_the_chat_socket():
    from accounts.services import user_sessions_changed

    sale = await db(make_sale)()
    buyer, _, _ = await joined(sale.room.pk, sale.buyer)
    from django.contrib.sessions.models import Session

    await db(Session.objects.all().delete)()
    await db(user_sessions_changed)(user_id=sale.buyer.pk)
    assert await asyncio.wait_for(closed_with(buyer), 5) == 4401
