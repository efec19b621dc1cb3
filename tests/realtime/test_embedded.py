"""The embedded default is live (issue 9, item 18): a server started without REDIS_URL (the
in-process bus, as under `make run`) and with no separate worker settles an auction that ends
while it is watched, and pushes `ended` to the watcher and `won` to the winner's socket."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from auctions import services
from auctions.models import Auction
from tests import factories as f
from tests.realtime.servers import Daphne, free_ports, server_env

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def embedded_server(tmp_path):
    # No REDIS_URL: the in-process bus. No run_worker anywhere: only the server process.
    env = server_env(redis_url="", bus_prefix=f"{settings.BUS_PREFIX}-emb", WORKER_INTERVAL_SECONDS="0.2")
    env.pop("EMBEDDED_WORKER", None)
    server = Daphne(free_ports(1, start=8361, stop=8420)[0], env, tmp_path / "daphne.log").start().wait()
    try:
        yield server
    finally:
        server.stop()


def cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def test_without_redis_an_auction_ending_while_watched_is_pushed_by_the_servers_own_loop(embedded_server):
    # given: a national auction with a leading bid, watched by an anonymous socket and the winner
    server = embedded_server
    auction = f.make_auction(is_national=True, start_price=10_000)
    winner = f.make_user(balance=100_000)
    services.bid_place(auction_id=auction.pk, actor=winner, amount=10_000, request_id=f.rid())
    cookie = cookie_for(winner)

    async def scenario():
        from websockets.asyncio.client import connect

        url = server.ws_url(f"/ws/auctions/{auction.pk}/")
        async with (
            connect(url, origin=server.url, open_timeout=10) as watcher,
            connect(url, origin=server.url, open_timeout=10, additional_headers={"Cookie": cookie}) as mine,
        ):
            for ws in (watcher, mine):
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "snapshot"
            # when: the auction's end comes while both watch
            await asyncio.to_thread(f.set_end, auction, timezone.now() + timedelta(milliseconds=300))

            async def until(ws, predicate, timeout=20):
                deadline = time.monotonic() + timeout  # only stops a hung test; not a speed check
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic())))
                    if predicate(frame):
                        return frame

            ended = await until(watcher, lambda m: m["type"] == "ended")
            won = await until(mine, lambda m: m["type"] == "notification" and m["kind"] == "won")
            return ended, won

    try:
        ended, won = asyncio.run(scenario())
    except TimeoutError:
        pytest.fail(f"no push from the embedded loop\n{server.log()}")

    # then: the server's own loop settled it and the events reached the sockets
    assert ended["status"] == "sold" and ended["final_price"] == 10_000
    assert won["auction_id"] == auction.pk
    auction.refresh_from_db()
    assert auction.status == Auction.Status.SOLD and auction.winner_id == winner.pk
