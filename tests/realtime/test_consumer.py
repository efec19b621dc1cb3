"""The WebSocket door on PostgreSQL and Redis (transaction=True: on_commit really runs, and
the events really go through the Redis bus to this process's hub)."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.sessions.models import Session

from auctions.models import Auction, Bid
from auctions.selectors import leader_tag
from auctions.services import bid_place
from realtime.layer import user_group
from tests import factories as f
from tests.money import world
from tests.realtime.conftest import frames_until_marker, open_socket, receive_all, receive_until

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


def rid() -> str:
    return uuid.uuid4().hex


@db
def national(**kwargs) -> Auction:
    return f.make_auction(is_national=True, **kwargs)


@db
def user(balance: int = 1_000_000, **kwargs):
    return f.make_user(balance=balance, **kwargs)


@db
def snapshot_of_world() -> dict:
    return world()


@db
def refresh(auction: Auction) -> Auction:
    auction.refresh_from_db()
    return auction


SNAPSHOT_FIELDS = {
    "type",
    "auction_id",
    "seq",
    "status",
    "end_reason",
    "is_national",
    "current_price",
    "min_next_bid",
    "buy_now_price",
    "bid_count",
    "leader",
    "leader_tag",
    "starts_at",
    "ends_at",
    "server_time",
    "recent_bids",
    "request_id",
    "you",
}


async def test_anonymous_watcher_gets_a_snapshot():
    auction = await national(start_price=10_000, buy_now_price=50_000)
    ws, snap = await open_socket(auction.pk)
    assert snap["type"] == "snapshot"
    assert set(snap) == SNAPSHOT_FIELDS
    assert snap["auction_id"] == auction.pk
    assert snap["status"] == "open"
    assert snap["current_price"] == 10_000 and snap["min_next_bid"] == 10_000
    assert snap["buy_now_price"] == 50_000
    assert snap["bid_count"] == 0 and snap["leader"] is None and snap["recent_bids"] == []
    assert snap["seq"] == auction.seq
    assert snap["you"] == {"signed_in": False, "tag": None, "leading": False}
    await ws.disconnect()


async def test_signed_in_snapshot_says_whether_you_lead():
    auction = await national()
    alice = await user(nickname="김민수")
    await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id=rid())
    ws, snap = await open_socket(auction.pk, user=alice)
    assert snap["you"]["signed_in"] is True
    assert snap["you"]["tag"] == leader_tag(auction_id=auction.pk, user_id=alice.pk)
    assert snap["you"]["leading"] is True
    assert snap["leader"] == "김*수"
    assert snap["leader_tag"] == snap["you"]["tag"]
    await ws.disconnect()


@pytest.mark.parametrize("kind", ["local", "unknown", "bad-path"])
async def test_local_or_unknown_auction_is_refused_with_a_close_code(kind):
    from channels.testing import WebsocketCommunicator

    from neighborbid.asgi import application

    if kind == "local":
        auction = await db(f.make_auction)(is_national=False)
        path, code = f"/ws/auctions/{auction.pk}/", 4403
    elif kind == "unknown":
        path, code = "/ws/auctions/987654321/", 4404
    else:
        path, code = "/ws/nothing/here/", 4404
    ws = WebsocketCommunicator(application, path, headers=[(b"host", b"testserver"), (b"origin", b"http://testserver")])
    connected, _ = await ws.connect(timeout=5)
    assert connected
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": code}


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
async def test_cross_origin_handshake_is_refused(origin):
    from channels.testing import WebsocketCommunicator

    from neighborbid.asgi import application

    auction = await national()
    headers = [(b"host", b"testserver")] + ([(b"origin", origin)] if origin else [])
    ws = WebsocketCommunicator(application, f"/ws/auctions/{auction.pk}/", headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert not connected


async def test_bid_is_acked_and_broadcast_to_other_sockets():
    auction = await national(start_price=10_000)
    bidder = await user(nickname="박지수")
    ws_bidder, snap = await open_socket(auction.pk, user=bidder)
    ws_watcher, _ = await open_socket(auction.pk)
    ws_watcher2, _ = await open_socket(auction.pk)

    request_id = rid()
    await ws_bidder.send_json_to({"type": "bid", "amount": 10_000, "request_id": request_id})
    frames = await receive_until(ws_bidder, lambda m: m["type"] == "ack", timeout=5)
    ack = frames[-1]
    # The hub may have written the new state just before the ack; never twice.
    assert [m["type"] for m in frames] in (["ack"], ["state", "ack"])
    assert ack["type"] == "ack" and ack["action"] == "bid" and ack["request_id"] == request_id
    assert ack["duplicate"] is False and ack["amount"] == 10_000
    assert ack["state"]["current_price"] == 10_000 and ack["state"]["seq"] == snap["seq"] + 1
    assert ack["state"]["leader_tag"] == snap["you"]["tag"]

    for ws in (ws_watcher, ws_watcher2):
        state = await ws.receive_json_from(timeout=5)
        assert state["type"] == "state"
        assert state["seq"] == snap["seq"] + 1
        assert state["current_price"] == 10_000 and state["min_next_bid"] == 11_000
        assert state["bid_count"] == 1 and state["leader"] == "박*수"
        assert state["recent_bids"][0]["amount"] == 10_000
    # The bidder already has that state (in the ack): it is not sent twice (a late copy would
    # also show before the marker at the end of this test).
    assert await ws_bidder.receive_nothing(timeout=0.2)
    assert await db(Bid.objects.filter(auction=auction, client_request_id=request_id).count)() == 1

    # The same request again: one bid, a duplicate ack.
    await ws_bidder.send_json_to({"type": "bid", "amount": 10_000, "request_id": request_id})
    again = await ws_bidder.receive_json_from(timeout=5)
    assert again["type"] == "ack" and again["duplicate"] is True
    assert await db(Bid.objects.filter(auction=auction).count)() == 1
    # and nothing late is on its way to anyone: every socket's next state is the marker's
    by_socket = await frames_until_marker(auction.pk, ws_bidder, ws_watcher, ws_watcher2)
    for frames in by_socket:
        assert [f["seq"] for f in frames if f["type"] == "state"] == [snap["seq"] + 2], frames
    for ws in (ws_bidder, ws_watcher, ws_watcher2):
        await ws.disconnect()


async def test_outbid_user_gets_a_personal_notification_on_every_page():
    auction = await national(start_price=10_000)
    other = await national(start_price=10_000)
    alice, bob = await user(), await user()
    ws_alice, _ = await open_socket(auction.pk, user=alice)
    ws_alice_other_page, _ = await open_socket(other.pk, user=alice)
    ws_bob, _ = await open_socket(auction.pk, user=bob)

    await ws_alice.send_json_to({"type": "bid", "amount": 10_000, "request_id": rid()})
    await receive_until(ws_alice, lambda m: m["type"] == "ack")
    await ws_bob.send_json_to({"type": "bid", "amount": 11_000, "request_id": rid()})
    await receive_until(ws_bob, lambda m: m["type"] == "ack")

    for ws in (ws_alice, ws_alice_other_page):
        frames = await receive_until(ws, lambda m: m["type"] == "notification")
        note = frames[-1]
        assert note["kind"] == "outbid" and note["auction_id"] == auction.pk
        assert note["current_price"] == 11_000 and note["released"] == 10_000
        assert "11,000원" in note["message"]
    for ws in (ws_alice, ws_alice_other_page, ws_bob):
        await ws.disconnect()


async def test_personal_events_reach_every_socket_of_that_user_and_nobody_else():
    """Through the real channel layer (Redis): the group user.<id> holds each signed-in socket of
    that user, on any auction page; another user's socket never hears it."""
    auction = await national(start_price=10_000)
    other = await national(start_price=10_000)
    alice, bob = await user(), await user()
    mine = [(await open_socket(auction.pk, user=alice))[0], (await open_socket(other.pk, user=alice))[0]]
    ws_bob, _ = await open_socket(auction.pk, user=bob)
    channel_layer = get_channel_layer()
    note = {"type": "notification", "kind": "outbid", "auction_id": auction.pk, "message": "..."}
    await channel_layer.group_send(user_group(alice.pk), {"type": "user.event", "event": {"type": "shout"}})
    await channel_layer.group_send(user_group(alice.pk), {"type": "user.event", "event": note})
    # a marker for bob, published after alice's: one connection, so it arrives after anything before it
    marker = {"type": "notification", "kind": "marker", "auction_id": auction.pk, "message": "표식"}
    await channel_layer.group_send(user_group(bob.pk), {"type": "user.event", "event": marker})
    for ws in mine:
        frames = await receive_until(ws, lambda m: m["type"] == "notification")
        assert [m["kind"] for m in frames if m["type"] == "notification"] == ["outbid"]
        assert not [m for m in frames if m["type"] == "shout"]  # not a notification: not written
    frames = await receive_until(ws_bob, lambda m: m["type"] == "notification")
    assert [m["kind"] for m in frames if m["type"] == "notification"] == ["marker"]
    for ws in (*mine, ws_bob):
        await ws.disconnect()


async def test_buy_now_acks_and_every_watcher_gets_the_final_state_and_ended():
    auction = await national(start_price=10_000, buy_now_price=30_000)
    buyer = await user()
    ws_buyer, _ = await open_socket(auction.pk, user=buyer)
    ws_watcher, _ = await open_socket(auction.pk)
    request_id = rid()
    await ws_buyer.send_json_to({"type": "buy_now", "request_id": request_id})
    buyer_frames = await receive_all(ws_buyer, {"ack", "ended", "notification"})
    ack = [m for m in buyer_frames if m["type"] == "ack"][0]
    assert ack["action"] == "buy_now" and ack["price"] == 30_000 and ack["state"]["status"] == "sold"

    frames = await receive_until(ws_watcher, lambda m: m["type"] == "ended")
    assert [m["type"] for m in frames] == ["state", "ended"]
    assert frames[0]["status"] == "sold" and frames[0]["current_price"] == 30_000
    ended = frames[1]
    assert ended["status"] == "sold" and ended["end_reason"] == "buy_now" and ended["final_price"] == 30_000
    assert ended["seq"] == frames[0]["seq"]
    # the buyer also gets `ended` (before or after its ack) and its won notification
    assert [m for m in buyer_frames if m["type"] == "ended"][0]["final_price"] == 30_000
    assert [m for m in buyer_frames if m["type"] == "notification"][0]["kind"] == "won"
    for ws in (ws_buyer, ws_watcher):
        await ws.disconnect()


# --- errors: one frame each, matched by request id, the socket stays up, nothing changes -------


async def _expect_error(ws, frame, code, *, request_id=None, raw: str | None = None) -> dict:
    if raw is not None:
        await ws.send_to(text_data=raw)
    else:
        await ws.send_json_to(frame)
    # Broadcasts (state, notification) may come first; the reply is the next ack/error.
    reply = (await receive_until(ws, lambda m: m["type"] in ("ack", "error"), timeout=5))[-1]
    assert reply["type"] == "error", reply
    assert reply["code"] == code, reply
    assert reply["request_id"] == request_id
    assert isinstance(reply["message"], str) and reply["message"]
    return reply


async def test_too_low_and_lost_race_errors_carry_the_current_price():
    auction = await national(start_price=10_000)
    alice, bob = await user(), await user()
    ws_alice, _ = await open_socket(auction.pk, user=alice)
    ws_bob, _ = await open_socket(auction.pk, user=bob)
    await ws_alice.send_json_to({"type": "bid", "amount": 10_000, "request_id": "a-1"})
    await receive_until(ws_alice, lambda m: m["type"] == "ack")
    # Bob bids the price he saw before Alice's bid landed: he lost the race.
    reply = await _expect_error(
        ws_bob, {"type": "bid", "amount": 10_000, "request_id": "b-1"}, "bid_too_low", request_id="b-1"
    )
    assert reply["current_price"] == 10_000 and reply["min_next_bid"] == 11_000
    assert "11,000원" in reply["message"]
    # ...and can retry at once with what the error told him.
    await ws_bob.send_json_to({"type": "bid", "amount": reply["min_next_bid"], "request_id": "b-2"})
    ack = (await receive_until(ws_bob, lambda m: m["type"] in ("ack", "error")))[-1]
    assert ack["type"] == "ack" and ack["state"]["current_price"] == 11_000
    for ws in (ws_alice, ws_bob):
        await ws.disconnect()


async def test_money_errors_from_the_services():
    seller = await user()
    auction = await national(seller=seller, start_price=10_000, buy_now_price=20_000)
    poor = await user(balance=5_000)
    rich = await user()
    ws_poor, _ = await open_socket(auction.pk, user=poor)
    ws_seller, _ = await open_socket(auction.pk, user=seller)
    ws_rich, _ = await open_socket(auction.pk, user=rich)
    before = await snapshot_of_world()

    reply = await _expect_error(
        ws_poor, {"type": "bid", "amount": 10_000, "request_id": "p1"}, "insufficient_funds", request_id="p1"
    )
    assert reply["current_price"] == 10_000 and reply["min_next_bid"] == 10_000
    await _expect_error(ws_poor, {"type": "buy_now", "request_id": "p2"}, "insufficient_funds", request_id="p2")
    await _expect_error(
        ws_seller, {"type": "bid", "amount": 10_000, "request_id": "s1"}, "own_auction", request_id="s1"
    )
    await _expect_error(ws_seller, {"type": "buy_now", "request_id": "s2"}, "own_auction", request_id="s2")
    reply = await _expect_error(
        ws_rich, {"type": "bid", "amount": 20_000, "request_id": "r1"}, "use_buy_now", request_id="r1"
    )
    assert reply["buy_now_price"] == 20_000 and reply["min_next_bid"] == 10_000
    assert await snapshot_of_world() == before

    # duplicate_request: the same request id with another amount
    await ws_rich.send_json_to({"type": "bid", "amount": 10_000, "request_id": "r2"})
    await receive_until(ws_rich, lambda m: m["type"] == "ack")
    await _expect_error(
        ws_rich, {"type": "bid", "amount": 12_000, "request_id": "r2"}, "duplicate_request", request_id="r2"
    )
    for ws in (ws_poor, ws_seller, ws_rich):
        await ws.disconnect()


async def test_not_open_and_buy_now_unavailable():
    auction = await national(start_price=10_000)  # no buy-now price
    bidder = await user()
    ws, _ = await open_socket(auction.pk, user=bidder)
    before = await snapshot_of_world()
    await _expect_error(ws, {"type": "buy_now", "request_id": "x1"}, "buy_now_unavailable", request_id="x1")
    assert await snapshot_of_world() == before
    await db(f.set_end)(auction, auction.starts_at.__class__.now(tz=auction.ends_at.tzinfo))
    before = await snapshot_of_world()
    await _expect_error(ws, {"type": "bid", "amount": 10_000, "request_id": "x2"}, "auction_not_open", request_id="x2")
    assert await snapshot_of_world() == before
    await ws.disconnect()


async def test_suspended_user_cannot_bid():
    auction = await national()
    bidder = await user()
    ws, _ = await open_socket(auction.pk, user=bidder)
    from accounts.models import User

    await db(User.objects.filter(pk=bidder.pk).update)(is_suspended=True, suspended_reason="테스트")
    before = await snapshot_of_world()
    await _expect_error(ws, {"type": "bid", "amount": 10_000, "request_id": "s-1"}, "suspended", request_id="s-1")
    assert await snapshot_of_world() == before and await db(Bid.objects.count)() == 0
    await ws.disconnect()


async def test_anonymous_may_watch_but_not_bid():
    auction = await national(buy_now_price=50_000)
    ws, _ = await open_socket(auction.pk)
    before = await snapshot_of_world()
    await _expect_error(
        ws, {"type": "bid", "amount": 10_000, "request_id": "anon-1"}, "login_required", request_id="anon-1"
    )
    await _expect_error(ws, {"type": "buy_now", "request_id": "anon-2"}, "login_required", request_id="anon-2")
    assert await snapshot_of_world() == before
    # still watching
    await ws.send_json_to({"type": "sync", "request_id": "s"})
    assert (await ws.receive_json_from(timeout=5))["type"] == "snapshot"
    await ws.disconnect()


async def test_a_session_logged_out_elsewhere_cannot_keep_bidding():
    auction = await national()
    bidder = await user()
    ws, _ = await open_socket(auction.pk, user=bidder)
    # The user logs out in another tab: the session row is gone, the socket is still open.
    await db(Session.objects.filter(session_key=ws.session_cookie).delete)()
    before = await snapshot_of_world()
    await _expect_error(
        ws, {"type": "bid", "amount": 10_000, "request_id": "lo-1"}, "login_required", request_id="lo-1"
    )
    await _expect_error(ws, {"type": "buy_now", "request_id": "lo-2"}, "login_required", request_id="lo-2")
    assert await snapshot_of_world() == before
    await ws.disconnect()


async def test_password_change_elsewhere_invalidates_the_socket():
    auction = await national()
    bidder = await user()
    ws, _ = await open_socket(auction.pk, user=bidder)

    @db
    def change_password():
        bidder.set_password("a-whole-new-password-42")
        bidder.save()

    await change_password()
    await _expect_error(
        ws, {"type": "bid", "amount": 10_000, "request_id": "pw-1"}, "login_required", request_id="pw-1"
    )
    assert await db(Bid.objects.count)() == 0
    await ws.disconnect()


BAD_FRAMES = (
    ("not json", "bad_frame", None),
    ("[1, 2]", "bad_frame", None),
    ('"bid"', "bad_frame", None),
    (" ", "bad_frame", None),
    ('{"type": "bid", "type": "sync"}', "bad_frame", None),
    ('{"type": "bid", "amount": NaN, "request_id": "n1"}', "bad_frame", None),
    ('{"type": "bid", "amount": Infinity, "request_id": "n2"}', "bad_frame", None),
    ('{"type": "bid", "amount": -Infinity, "request_id": "n3"}', "bad_frame", None),
    ('{"type": "bid", "amount": 1e999, "request_id": "n4"}', "invalid_amount", "n4"),
    ('{"type": "bid", "amount": 10000.0, "request_id": "n5"}', "invalid_amount", "n5"),
    ('{"type": "bid", "amount": 10000.5, "request_id": "n6"}', "invalid_amount", "n6"),
    ('{"type": "bid", "amount": "10000", "request_id": "n7"}', "invalid_amount", "n7"),
    ('{"type": "bid", "amount": true, "request_id": "n8"}', "invalid_amount", "n8"),
    ('{"type": "bid", "amount": null, "request_id": "n9"}', "invalid_amount", "n9"),
    ('{"type": "bid", "amount": [10000], "request_id": "n10"}', "invalid_amount", "n10"),
    ('{"type": "bid", "amount": -10000, "request_id": "n11"}', "invalid_amount", "n11"),
    ('{"type": "bid", "amount": 0, "request_id": "n12"}', "invalid_amount", "n12"),
    ('{"type": "bid", "amount": 10000000000000000000000, "request_id": "n13"}', "invalid_amount", "n13"),
    ('{"type": "bid", "amount": 10000}', "invalid_request", None),
    ('{"type": "bid", "amount": 10000, "request_id": ""}', "invalid_request", None),
    ('{"type": "bid", "amount": 10000, "request_id": 12}', "invalid_request", None),
    ('{"type": "bid", "amount": 10000, "request_id": "' + "x" * 65 + '"}', "invalid_request", None),
    ('{"type": "bid", "amount": 10000, "request_id": "r", "auction_id": 1}', "invalid_request", "r"),
    ('{"type": "bid", "amount": 10000, "request_id": "r", "bidder": 1}', "invalid_request", "r"),
    ('{"type": "buy_now"}', "invalid_request", None),
    ('{"type": "hello", "request_id": "t1"}', "unknown_type", "t1"),
    ('{"type": "state", "seq": 999, "current_price": 1}', "unknown_type", None),
    ('{"type": "ended", "status": "sold"}', "unknown_type", None),
    ('{"type": "websocket.close"}', "unknown_type", None),
    ('{"type": "websocket.send", "text": "x"}', "unknown_type", None),
    ('{"type": "notification", "kind": "won"}', "unknown_type", None),
    ('{"type": "__init__"}', "unknown_type", None),
    ('{"type": "dispatch"}', "unknown_type", None),
    ('{"type": ["bid"]}', "unknown_type", None),
    ('{"request_id": "q"}', "unknown_type", "q"),
    ('{"type": "sync", "seq": -1}', "invalid_request", None),
    ('{"type": "sync", "seq": "5"}', "invalid_request", None),
    ('{"type": "bid", "amount": 10000, "request_id": "' + "y" * 3000 + '"}', "frame_too_large", None),
)


async def test_bad_frames_get_an_error_and_change_nothing(settings):
    settings.REALTIME = {**settings.REALTIME, "FRAME_BURST": 1000}
    auction = await national(start_price=10_000, buy_now_price=50_000)
    bidder = await user()
    ws_bidder, _ = await open_socket(auction.pk, user=bidder)
    ws_watcher, _ = await open_socket(auction.pk)
    before = await snapshot_of_world()
    for raw, code, request_id in BAD_FRAMES:
        reply = await _expect_error(ws_bidder, None, code, request_id=request_id, raw=raw)
        assert reply["code"] == code, raw
    assert await snapshot_of_world() == before
    assert await ws_watcher.receive_nothing(timeout=0.1)  # and the marker at the end shows nothing late
    # The socket is still up and still works.
    await ws_bidder.send_json_to({"type": "bid", "amount": 10_000, "request_id": "ok-after"})
    ack = (await receive_until(ws_bidder, lambda m: m["type"] in ("ack", "error")))[-1]
    assert ack["type"] == "ack"
    # the watcher saw that bid's state and the marker's, nothing of the bad frames
    (frames,) = await frames_until_marker(auction.pk, ws_watcher)
    assert [f["type"] for f in frames] == ["state", "state"], frames
    await ws_bidder.disconnect()
    await ws_watcher.disconnect()


async def test_binary_frames_are_refused():
    auction = await national()
    ws, _ = await open_socket(auction.pk)
    await ws.send_to(bytes_data=b'{"type": "sync"}')
    reply = await ws.receive_json_from(timeout=5)
    assert reply["type"] == "error" and reply["code"] == "bad_frame"
    await ws.disconnect()


async def test_per_user_bid_rate_limit(settings):
    settings.REALTIME = {**settings.REALTIME, "BID_RATE_PER_S": 0.01, "BID_BURST": 3}
    auction = await national(start_price=10_000)
    bidder = await user()
    ws, _ = await open_socket(auction.pk, user=bidder)
    ws2, _ = await open_socket(auction.pk, user=bidder)  # a second tab shares the bucket
    amount = 10_000
    for n in range(3):
        await (ws if n % 2 == 0 else ws2).send_json_to({"type": "bid", "amount": amount, "request_id": f"rl-{n}"})
        reply = (await receive_until(ws if n % 2 == 0 else ws2, lambda m: m["type"] in ("ack", "error")))[-1]
        assert reply["type"] == "ack", reply
        # the leader's next bid raises their maximum (max bidding): always a higher one
        amount = max(reply["state"]["min_next_bid"], amount + 1_000)
    before = await snapshot_of_world()
    for sock in (ws, ws2):
        await sock.send_json_to({"type": "bid", "amount": amount, "request_id": f"rl-x-{id(sock)}"})
        reply = (await receive_until(sock, lambda m: m["type"] in ("ack", "error")))[-1]
        assert reply["type"] == "error" and reply["code"] == "rate_limited"
        assert "잦아요" in reply["message"]
    assert await snapshot_of_world() == before
    await ws.disconnect()
    await ws2.disconnect()


async def test_frame_flood_is_rate_limited_without_closing(settings):
    settings.REALTIME = {**settings.REALTIME, "FRAME_RATE_PER_S": 0.01, "FRAME_BURST": 2}
    auction = await national()
    ws, _ = await open_socket(auction.pk)
    codes = []
    for _ in range(4):
        await ws.send_to(text_data="garbage")
        codes.append((await ws.receive_json_from(timeout=5))["code"])
    assert codes == ["bad_frame", "bad_frame", "rate_limited", "rate_limited"]
    await ws.disconnect()


async def test_server_error_is_an_error_frame(monkeypatch):
    auction = await national()
    bidder = await user()
    ws, _ = await open_socket(auction.pk, user=bidder)

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("auctions.services.bid_place", boom)
    await _expect_error(ws, {"type": "bid", "amount": 10_000, "request_id": "e-1"}, "server_error", request_id="e-1")
    await ws.disconnect()


# --- sequence numbers, gaps and resync ----------------------------------------------------------


async def test_gap_then_sync_gets_a_snapshot_and_heals_the_other_sockets(monkeypatch):
    auction = await national(start_price=10_000)
    alice = await user()
    ws_a, snap = await open_socket(auction.pk)
    ws_b, _ = await open_socket(auction.pk)
    # An event is lost on the way (the publish fails, bus or layer): the sockets hear nothing.
    monkeypatch.setattr("neighborbid.bus.publish", lambda channel, message: False)
    monkeypatch.setattr("realtime.layer.group_send", lambda group, message: False)
    await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id=rid())
    monkeypatch.undo()
    assert await ws_a.receive_nothing(timeout=0.2)
    # The client notices silence (or a seq jump) and asks for a sync.
    await ws_a.send_json_to({"type": "sync", "request_id": "sync-1", "seq": snap["seq"]})
    fresh = await ws_a.receive_json_from(timeout=5)
    assert fresh["type"] == "snapshot" and fresh["request_id"] == "sync-1"
    assert fresh["seq"] == snap["seq"] + 1 and fresh["current_price"] == 10_000 and fresh["bid_count"] == 1
    # The newer state the sync found is offered to the other sockets of this process too.
    healed = await ws_b.receive_json_from(timeout=5)
    assert healed["type"] == "state" and healed["seq"] == fresh["seq"]
    await ws_a.disconnect()
    await ws_b.disconnect()


async def test_states_arrive_in_order_coalesced_and_end_on_the_final_price():
    auction = await national(start_price=10_000)
    bidders = [await user() for _ in range(2)]
    ws, snap = await open_socket(auction.pk)

    @db
    def bid_storm(n: int) -> int:
        amount = 10_000
        for i in range(n):
            result = bid_place(auction_id=auction.pk, actor=bidders[i % 2], amount=amount, request_id=rid())
            amount = result.state["min_next_bid"]
        return result.state["seq"]

    final_seq = await bid_storm(30)
    frames = await receive_until(ws, lambda m: m.get("seq") == final_seq, timeout=5)
    seqs = [m["seq"] for m in frames]
    assert all(m["type"] == "state" for m in frames)
    assert seqs == sorted(set(seqs)), "never an older (or the same) state after a newer one"
    assert seqs[-1] == final_seq
    final = await refresh(auction)
    assert frames[-1]["current_price"] == final.current_price and frames[-1]["bid_count"] == 30
    (after,) = await frames_until_marker(auction.pk, ws)
    assert [f["seq"] for f in after] == [final_seq + 1], after  # no late or repeated state
    await ws.disconnect()


async def test_client_state_messages_never_reach_other_sockets():
    """Injection: whatever a client sends, nothing of it is relayed or changes anything."""
    auction = await national(start_price=10_000)
    mallory = await user()
    ws_m, _ = await open_socket(auction.pk, user=mallory)
    ws_v, snap = await open_socket(auction.pk)
    before = await snapshot_of_world()
    evil = [
        {"type": "state", "auction_id": auction.pk, "seq": 10**9, "current_price": 1, "status": "sold"},
        {"type": "ended", "auction_id": auction.pk, "seq": 10**9, "status": "sold", "final_price": 1},
        {"type": "notification", "kind": "won", "message": "축하합니다"},
        {"type": "bid", "amount": 10_000, "request_id": "'; DROP TABLE auctions_bid; --", "x": 1},
        {"type": "bid", "amount": 10_000, "request_id": "<script>alert(1)</script>", "auction_id": 1},
        {"type": "group_send", "group": f"auction-{auction.pk}"},
        {"type": "websocket.disconnect", "code": 1000},
    ]
    for frame in evil:
        await ws_m.send_json_to(frame)
        assert (await ws_m.receive_json_from(timeout=5))["type"] == "error"
    assert await snapshot_of_world() == before
    assert await ws_v.receive_nothing(timeout=0.2)  # and the marker at the end shows nothing late
    # A request id with SQL or markup in it is just an opaque id, echoed back as data.
    await ws_m.send_json_to({"type": "bid", "amount": 10_000, "request_id": "'; DROP TABLE auctions_bid; --"})
    ack = (await receive_until(ws_m, lambda m: m["type"] in ("ack", "error")))[-1]
    assert ack["type"] == "ack" and ack["request_id"] == "'; DROP TABLE auctions_bid; --"
    assert await db(Bid.objects.count)() == 1
    # the viewer got that bid's state and the marker's: nothing mallory sent was relayed
    (frames,) = await frames_until_marker(auction.pk, ws_v)
    assert [(f["type"], f["seq"]) for f in frames] == [("state", snap["seq"] + 1), ("state", snap["seq"] + 2)], frames
    await ws_m.disconnect()
    await ws_v.disconnect()


async def test_redis_down_bids_still_commit_and_ack(settings):
    """The bus and the rate limit fail open: money never waits for Redis."""
    from neighborbid import bus

    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": settings.REDIS_URL, "socket_connect_timeout": 0.2}]},
        }
    }
    settings.REALTIME = {**settings.REALTIME, "READY_TIMEOUT_S": 0.2}
    bus.reset_redis_client()
    try:
        auction = await national(start_price=10_000)
        bidder = await user()
        ws, snap = await open_socket(auction.pk, user=bidder)
        await ws.send_json_to({"type": "bid", "amount": 10_000, "request_id": "down-1"})
        ack = (await receive_until(ws, lambda m: m["type"] in ("ack", "error")))[-1]
        assert ack["type"] == "ack" and ack["state"]["seq"] == snap["seq"] + 1
        assert await db(Bid.objects.filter(client_request_id="down-1").count)() == 1
        await ws.disconnect()
    finally:
        bus.reset_redis_client()


async def test_snapshot_is_never_older_than_what_the_socket_already_has():
    auction = await national(start_price=10_000)
    alice = await user()
    ws, snap = await open_socket(auction.pk, user=alice)
    await ws.send_json_to({"type": "bid", "amount": 10_000, "request_id": "o-1"})
    ack = (await receive_until(ws, lambda m: m["type"] == "ack"))[-1]
    await ws.send_json_to({"type": "sync"})
    fresh = (await receive_until(ws, lambda m: m["type"] == "snapshot"))[-1]
    assert fresh["seq"] >= ack["state"]["seq"] and fresh["you"]["leading"] is True
    assert fresh["request_id"] is None
    await ws.disconnect()


def test_frames_parse_json_strictly():
    from realtime.frames import FrameRejected, parse_frame

    assert parse_frame(json.dumps({"type": "bid", "amount": 12_000, "request_id": "a"})).amount == 12_000
    assert parse_frame('{"type": "sync"}').request_id is None
    for raw in ('{"type":"bid","amount":NaN,"request_id":"a"}', '{"type":"bid","amount":1.5,"request_id":"a"}'):
        with pytest.raises(FrameRejected):
            parse_frame(raw)


async def test_without_redis_the_in_process_bus_keeps_a_single_server_live(settings):
    # the embedded default: bus.add_local_listener for the states, the in-memory layer for the rest
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    auction = await national(start_price=10_000)
    bidder, rival = await user(), await user()
    ws_bidder, _ = await open_socket(auction.pk, user=bidder)
    ws_watcher, snap = await open_socket(auction.pk)
    await ws_bidder.send_json_to({"type": "bid", "amount": 10_000, "request_id": "local-1"})
    assert (await receive_until(ws_bidder, lambda m: m["type"] in ("ack", "error")))[-1]["type"] == "ack"
    state = await ws_watcher.receive_json_from(timeout=5)
    assert state["type"] == "state" and state["seq"] == snap["seq"] + 1 and state["current_price"] == 10_000
    # the outbid notice comes through the in-memory layer, sent from the bid's own thread
    await db(bid_place)(auction_id=auction.pk, actor=rival, amount=11_000, request_id="local-2")
    frames = await receive_until(ws_bidder, lambda m: m["type"] == "notification")
    assert frames[-1]["kind"] == "outbid" and frames[-1]["released"] == 10_000
    await ws_bidder.disconnect()
    await ws_watcher.disconnect()


async def test_a_bid_below_a_committed_minimum_is_refused_at_the_door_and_retries_still_replay(monkeypatch):
    auction = await national(start_price=10_000)
    alice, bob = await user(), await user()
    ws_alice, _ = await open_socket(auction.pk, user=alice)
    ws_bob, _ = await open_socket(auction.pk, user=bob)
    await ws_alice.send_json_to({"type": "bid", "amount": 10_000, "request_id": "pc-a1"})
    await receive_until(ws_alice, lambda m: m["type"] == "ack")
    await receive_until(ws_bob, lambda m: m["type"] == "state")  # bob's process knows the new minimum

    calls = []
    real = __import__("auctions.services", fromlist=["bid_place"]).bid_place

    def spy(**kwargs):
        calls.append(kwargs["request_id"])
        return real(**kwargs)

    monkeypatch.setattr("auctions.services.bid_place", spy)
    reply = await _expect_error(
        ws_bob, {"type": "bid", "amount": 10_500, "request_id": "pc-b1"}, "bid_too_low", request_id="pc-b1"
    )
    assert reply["current_price"] == 10_000 and reply["min_next_bid"] == 11_000
    assert calls == []  # a sure loser never reached the service (no session check, no row lock)

    # A retry of a bid that was accepted earlier is still answered as a duplicate, not "too low".
    await ws_bob.send_json_to({"type": "bid", "amount": 11_000, "request_id": "pc-b2"})
    await receive_until(ws_bob, lambda m: m["type"] == "ack")
    await ws_alice.send_json_to({"type": "bid", "amount": 12_000, "request_id": "pc-a2"})
    await receive_until(ws_alice, lambda m: m["type"] == "ack")
    await receive_until(ws_bob, lambda m: m["type"] == "state" and m["current_price"] == 12_000)
    # Bob's client lost the first answer and resends pc-b2 (11,000 is too low by now).
    await ws_bob.send_json_to({"type": "bid", "amount": 11_000, "request_id": "pc-b2"})
    again = (await receive_until(ws_bob, lambda m: m["type"] in ("ack", "error")))[-1]
    assert again["type"] == "ack" and again["duplicate"] is True
    assert await db(Bid.objects.filter(bidder=bob).count)() == 1
    await ws_alice.disconnect()
    await ws_bob.disconnect()


async def test_a_bid_frame_with_a_maximum_acks_my_maximum_and_others_see_only_the_price():
    auction = await national(start_price=10_000)
    alice, bob = await user(), await user()
    ws_alice, _ = await open_socket(auction.pk, user=alice)
    ws_bob, _ = await open_socket(auction.pk, user=bob)
    await ws_alice.send_json_to({"type": "bid", "amount": 10_000, "max_amount": 30_000, "request_id": "mx-1"})
    ack = (await receive_until(ws_alice, lambda m: m["type"] in ("ack", "error")))[-1]
    assert ack["type"] == "ack" and ack["leading"] is True and ack["my_max"] == 30_000
    state = (await receive_until(ws_bob, lambda m: m["type"] == "state"))[-1]
    assert state["current_price"] == 10_000 and "30000" not in json.dumps(state) and "max" not in json.dumps(state)
    # bob's plain bid loses at once to alice's maximum; his ack says so
    await ws_bob.send_json_to({"type": "bid", "amount": 11_000, "request_id": "mx-2"})
    ack = (await receive_until(ws_bob, lambda m: m["type"] in ("ack", "error")))[-1]
    assert ack["type"] == "ack" and ack["leading"] is False and ack["my_max"] is None
    assert ack["state"]["current_price"] == 12_000
    # a non-integer maximum is refused with a frame and changes nothing
    before = await snapshot_of_world()
    await ws_bob.send_json_to({"type": "bid", "amount": 13_000, "max_amount": "40000", "request_id": "mx-3"})
    err = (await receive_until(ws_bob, lambda m: m["type"] in ("ack", "error")))[-1]
    assert err["type"] == "error" and err["code"] == "invalid_amount"
    assert await snapshot_of_world() == before
    await ws_alice.disconnect()
    await ws_bob.disconnect()
