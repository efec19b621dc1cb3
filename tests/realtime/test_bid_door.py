"""The bid door, `ws/auctions/<id>/bid/` (issue 25): a signed-in client's bids, acks and errors
only. It hears no state and no personal event (the watch door shows them), so a deployment can
send it to processes that write to no crowd. On PostgreSQL and Redis (transaction=True)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from auctions.models import Bid
from tests import factories as f
from tests.money import world
from tests.realtime.conftest import ORIGIN, open_socket, receive_until
from tests.realtime.test_consumer import national, rid, user

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


def door(auction_id: int) -> str:
    return f"/ws/auctions/{auction_id}/bid/"


async def test_a_bid_through_the_door_is_acked_and_every_watcher_gets_the_state():
    # given alice's page (the watch door) and her bid door, and bob watching
    auction = await national(start_price=10_000)
    alice, bob = await user(nickname="김하나"), await user()
    ws_alice, snap = await open_socket(auction.pk, user=alice)
    ws_door, door_snap = await open_socket(auction.pk, user=alice, path=door(auction.pk))
    ws_bob, _ = await open_socket(auction.pk, user=bob)
    # the door's first frame says it is open, with the state as the watch door's snapshot
    assert door_snap["type"] == "snapshot" and door_snap["seq"] == snap["seq"]
    assert door_snap["you"]["signed_in"] is True

    # when alice bids through the door
    request_id = rid()
    await ws_door.send_json_to({"type": "bid", "amount": 10_000, "request_id": request_id})

    # then the door answers with the ack and its committed state
    ack = await ws_door.receive_json_from(timeout=5)
    assert ack["type"] == "ack" and ack["request_id"] == request_id and ack["leading"] is True
    assert ack["state"]["seq"] == snap["seq"] + 1 and ack["state"]["current_price"] == 10_000
    assert await db(Bid.objects.filter(auction=auction, bidder=alice, client_request_id=request_id).count)() == 1
    # and both watch sockets, alice's own page included, get the state
    for ws in (ws_alice, ws_bob):
        frames = await receive_until(ws, lambda m: m["type"] == "state")
        assert frames[-1]["seq"] == snap["seq"] + 1 and frames[-1]["current_price"] == 10_000

    # when bob outbids her on his page
    await ws_bob.send_json_to({"type": "bid", "amount": 11_000, "request_id": rid()})
    await receive_until(ws_bob, lambda m: m["type"] == "ack")

    # then her page hears the state and the outbid notice
    frames = await receive_until(ws_alice, lambda m: m["type"] == "notification", timeout=5)
    assert [m["seq"] for m in frames if m["type"] == "state"] == [snap["seq"] + 2]
    assert frames[-1]["kind"] == "outbid"
    # and the door neither: the hub writes a state to every socket of the auction in the same
    # flush (and the Channels layer, with FANOUT = "channels", to every member of the group at
    # once), and the notice goes to every socket of hers: both would be on their way by now
    assert await ws_door.receive_nothing(timeout=0.5)
    # and a sync on the door is answered with the newest state
    await ws_door.send_json_to({"type": "sync", "request_id": "door-sync"})
    frames = await receive_until(ws_door, lambda m: m["type"] == "snapshot")
    assert [m["type"] for m in frames] == ["snapshot"], frames
    assert frames[-1]["seq"] == snap["seq"] + 2
    for ws in (ws_alice, ws_door, ws_bob):
        await ws.disconnect()


async def test_a_request_resent_on_the_watch_door_is_replayed_not_placed_twice():
    """The page's fallback: a bid sent on the door whose answer never came is sent again with
    the same request id on the watch socket. The service replays the first outcome."""
    auction = await national(start_price=10_000)
    alice = await user()
    ws_door, _ = await open_socket(auction.pk, user=alice, path=door(auction.pk))
    ws_page, _ = await open_socket(auction.pk, user=alice)
    request_id = rid()
    await ws_door.send_json_to({"type": "bid", "amount": 10_000, "request_id": request_id})
    first = await ws_door.receive_json_from(timeout=5)
    assert first["type"] == "ack" and first["duplicate"] is False

    await ws_page.send_json_to({"type": "bid", "amount": 10_000, "request_id": request_id})
    again = await receive_until(ws_page, lambda m: m["type"] == "ack")
    assert again[-1]["duplicate"] is True and again[-1]["bid_id"] == first["bid_id"]
    assert await db(Bid.objects.filter(auction=auction).count)() == 1
    for ws in (ws_door, ws_page):
        await ws.disconnect()


async def _closed_with(path: str, *, cookie_of=None) -> int:
    from django.conf import settings

    from neighborbid.asgi import application
    from tests.realtime.conftest import session_cookie

    headers = [(b"host", b"testserver"), (b"origin", ORIGIN)]
    if cookie_of is not None:
        cookie = await session_cookie(cookie_of)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    ws = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await ws.connect(timeout=5)
    assert connected
    output = await ws.receive_output(timeout=5)
    assert output["type"] == "websocket.close", output
    return output["code"]


async def test_the_door_is_for_signed_in_bidders_on_live_auctions_only():
    auction = await national(start_price=10_000)
    local = await db(f.make_auction)(is_national=False)
    alice = await user()
    before = await db(world)()
    # anonymous: 4401 (sign in first); a local auction: 4403; no such auction: 4404
    assert await _closed_with(door(auction.pk)) == 4401
    assert await _closed_with(door(local.pk), cookie_of=alice) == 4403
    assert await _closed_with(door(987654321), cookie_of=alice) == 4404
    assert await db(world)() == before


async def test_bad_frames_on_the_door_get_an_error_and_change_nothing():
    auction = await national(start_price=10_000)
    alice = await user()
    ws_door, _ = await open_socket(auction.pk, user=alice, path=door(auction.pk))
    before = await db(world)()
    await ws_door.send_json_to({"type": "bid", "amount": "lots", "request_id": "bad-1"})
    error = await ws_door.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["request_id"] == "bad-1"
    await ws_door.send_json_to({"type": "bid", "amount": 5_000, "request_id": "low-1"})
    error = await ws_door.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "bid_too_low" and error["request_id"] == "low-1"
    assert await db(world)() == before
    await ws_door.disconnect()
