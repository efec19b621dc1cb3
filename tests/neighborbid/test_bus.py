"""The bus publishes through one thread per process (neighborbid/bus.py): a bid never waits for
Redis, the events reach Redis in the order they were published, and a publisher that falls
behind drops the oldest events, never the newest."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import redis
from django.conf import settings as django_settings

from auctions.events import auction_channel
from auctions.models import Bid
from auctions.services import bid_place
from neighborbid import bus
from tests.factories import make_auction, make_user, rid
from tests.money import wallet_of

pytestmark = pytest.mark.django_db(transaction=True)


class SilentRedis:
    """A TCP server that accepts and never answers: a Redis that hangs (a partition, a stalled
    failover). Closing it resets the connections it holds, so a client stuck on it fails fast."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.real_url = ""
        self.accepting = threading.Thread(target=self._accept, daemon=True)
        self.accepting.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.held.append(conn)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self):
        self.server.close()
        held, self.held = self.held, []
        for conn in held:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()


class Subscriber:
    def __init__(self, channel, url=None):
        self.client = redis.Redis.from_url(url or django_settings.REDIS_URL)
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(channel)
        self.pubsub.get_message(timeout=1)

    def texts(self, count, wait=5.0):
        got, deadline = [], time.monotonic() + wait
        while len(got) < count and time.monotonic() < deadline:
            msg = self.pubsub.get_message(timeout=0.05)
            if msg and msg["type"] == "message":
                got.append(json.loads(msg["data"]))
        return got

    def close(self):
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def silent(settings):
    """REDIS_URL pointed at a Redis that hangs, for this test; the real one again after, with
    the publisher drained."""
    real = settings.REDIS_URL
    server = SilentRedis()
    server.real_url = real
    settings.REDIS_URL = server.url
    settings.REDIS_SOCKET_TIMEOUT = 5.0
    bus.reset_redis_client()
    yield server
    settings.REDIS_URL = real
    bus.reset_redis_client()
    server.close()
    assert bus.flush(timeout=10)


def test_a_bid_never_waits_for_a_hanging_redis(silent):
    # given Redis accepting connections and never answering (the old publish waited 5 s for it)
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    # when a bid commits
    started = time.monotonic()
    result = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    took = time.monotonic() - started
    # then it is answered without the socket timeout, and the money is right
    assert took < 2.5, took
    assert result.bid.pk and Bid.objects.count() == 1 and wallet_of(bidder) == (40_000, 10_000)
    assert not bus.flush(timeout=0.2)  # the state is still waiting on the hanging Redis


def test_events_reach_redis_in_the_order_published():
    channel = auction_channel(987_654)
    subscriber = Subscriber(channel)
    try:
        # when 300 events are published from two threads, each its own run in order
        def run(tag):
            for n in range(150):
                bus.publish(channel, {"type": "state", "tag": tag, "n": n})

        threads = [threading.Thread(target=run, args=(tag,)) for tag in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert bus.flush(timeout=10)
        got = subscriber.texts(300)
    finally:
        subscriber.close()
    # then every one arrives once, and each thread's in its order
    assert len(got) == 300
    for tag in ("a", "b"):
        assert [m["n"] for m in got if m["tag"] == tag] == list(range(150))


def test_a_publisher_behind_drops_the_oldest_and_sends_the_newest(silent, settings, monkeypatch):
    # given a publisher stuck on a hanging Redis, with room for 5 waiting events
    channel = auction_channel(987_655)
    monkeypatch.setattr(bus._Publisher, "MAX_PENDING", 5)
    bus.publish(channel, {"type": "state", "n": 0})  # the thread takes this one and hangs
    deadline = time.monotonic() + 5
    while bus._publisher()._pending and time.monotonic() < deadline:
        time.sleep(0.01)
    dropped_before = bus._publisher().dropped
    # when 8 more are published
    for n in range(1, 9):
        assert bus.publish(channel, {"type": "state", "n": n}) is True
    # then the 3 oldest of them were dropped, and once Redis is back the newest 5 arrive in order
    assert bus._publisher().dropped - dropped_before == 3
    subscriber = Subscriber(channel, url=silent.real_url)  # listening before Redis comes back
    try:
        settings.REDIS_URL = silent.real_url
        bus.reset_redis_client()
        silent.close()  # the stuck send fails at once (connection reset); the rest go to Redis
        assert bus.flush(timeout=10)
        got = subscriber.texts(5, wait=2)
    finally:
        subscriber.close()
    assert [m["n"] for m in got] == [4, 5, 6, 7, 8]
