"""Issue 9 #2: oversize WebSocket messages through a real Daphne process. Within the
transport limit (1 MiB) an error frame and the socket stays; beyond it a close frame with code
1009 "message too big" — never a dropped TCP connection (1006, which clients retry)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests import factories as f
from tests.realtime.servers import Daphne, free_ports, server_env

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]

MIB = 1024 * 1024


@pytest.fixture
def daphne(tmp_path):
    from django.conf import settings

    env = server_env(redis_url=settings.REDIS_URL, bus_prefix=settings.BUS_PREFIX)
    server = Daphne(free_ports(1, start=8261, stop=8300)[0], env, tmp_path / "daphne.log").start()
    try:
        server.wait()
        yield server
    finally:
        server.stop()


async def _open(server: Daphne, auction_id: int):
    from websockets.asyncio.client import connect

    conn = await connect(
        server.ws_url(f"/ws/auctions/{auction_id}/"), origin=server.url, open_timeout=10, max_size=None
    )
    snapshot = json.loads(await asyncio.wait_for(conn.recv(), 10))
    assert snapshot["type"] == "snapshot"
    return conn


def test_every_oversize_message_gets_a_defined_answer(daphne):
    from websockets.exceptions import ConnectionClosed

    auction = f.make_auction(is_national=True)

    async def scenario():
        # just over the frame limit, and just under the transport limit: an error frame, socket stays
        conn = await _open(daphne, auction.pk)
        for size in (2_049, MIB - 64):
            await conn.send(json.dumps({"type": "sync", "request_id": "x" * size}))
            reply = json.loads(await asyncio.wait_for(conn.recv(), 10))
            assert reply["type"] == "error" and reply["code"] == "frame_too_large", reply
        await conn.send(json.dumps({"type": "sync", "request_id": "still-here"}))
        assert json.loads(await asyncio.wait_for(conn.recv(), 10))["type"] == "snapshot"
        await conn.close()

        # over the transport limit: a proper close, code 1009 with a reason
        for size in (MIB + 1, 2 * MIB):
            conn = await _open(daphne, auction.pk)
            await conn.send("x" * size)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(conn.recv(), 10)
            assert closed.value.rcvd is not None, f"no close frame for {size} bytes (TCP dropped: 1006)"
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1009, "message too big")

    asyncio.run(scenario())
