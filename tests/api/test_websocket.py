"""Issue 21 #3: a native client opens the live socket with a one-time, 30-second ticket instead of
a cookie, with no Origin header; the socket acts for that device until it is revoked."""

from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.models import DeviceToken
from auctions.models import Bid
from tests import factories as f
from tests.api.conftest import ApiClient, token_for
from tests.realtime.conftest import _close_db_pool_at_end, _realtime_cleanup, receive_until  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True)]
db = database_sync_to_async


def rid() -> str:
    return uuid.uuid4().hex


@db
def ticket_for(token: str) -> str:
    response = ApiClient(token=token).post_json("/api/v1/ws-ticket")
    assert response.status_code == 201, response.content
    assert response.json()["expires_in"] == 30
    return response.json()["ticket"]


async def connect(path: str) -> tuple[WebsocketCommunicator, dict]:
    from neighborbid.asgi import application

    # no Origin, no cookie: a phone app
    communicator = WebsocketCommunicator(application, path, headers=[(b"host", b"testserver")])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator, await communicator.receive_output(timeout=5)


async def bid(ws, amount: int) -> dict:
    await ws.send_json_to({"type": "bid", "request_id": rid(), "amount": amount})
    return (await receive_until(ws, lambda m: m["type"] in ("ack", "error"), timeout=5))[-1]


async def test_a_ticket_opens_a_signed_in_socket_once_without_origin_or_cookie():
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    alice = await db(f.make_user)(balance=100_000)
    token = await db(token_for)(alice)
    ticket = await ticket_for(token)
    ws, first = await connect(f"/ws/auctions/{auction.pk}/?ticket={ticket}")
    import json

    snapshot = json.loads(first["text"])
    assert snapshot["you"]["signed_in"] is True
    ack = await bid(ws, 10_000)
    assert ack["type"] == "ack", ack
    assert await db(Bid.objects.filter(bidder=alice).count)() == 1
    await ws.disconnect()
    # the same ticket again: accepted, then closed 4401
    again, closing = await connect(f"/ws/auctions/{auction.pk}/?ticket={ticket}")
    assert closing == {"type": "websocket.close", "code": 4401}
    # a made-up ticket too
    _, closing = await connect(f"/ws/auctions/{auction.pk}/?ticket=nbw_made-up")
    assert closing == {"type": "websocket.close", "code": 4401}


async def test_revoking_the_device_ends_the_sockets_powers():
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    alice = await db(f.make_user)(balance=100_000)
    token = await db(token_for)(alice)
    ws, _ = await connect(f"/ws/auctions/{auction.pk}/?ticket={await ticket_for(token)}")
    device = await db(DeviceToken.objects.get)(user=alice)
    response = await db(ApiClient(token=token).delete)(f"/api/v1/auth/devices/{device.pk}")
    assert response.status_code == 204
    refused = await bid(ws, 10_000)
    assert refused["type"] == "error" and refused["code"] == "login_required", refused
    assert await db(Bid.objects.count)() == 0
    await ws.disconnect()


async def test_without_a_ticket_the_site_rules_hold():
    """No ticket and no Origin: refused at the handshake, as before (the cookie path's Origin check)."""
    from neighborbid.asgi import application

    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    communicator = WebsocketCommunicator(application, f"/ws/auctions/{auction.pk}/", headers=[(b"host", b"testserver")])
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
