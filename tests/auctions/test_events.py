"""Events leave only after commit, never after a rollback, and a broken bus never fails a bid.

These subscribe to the real Redis (the bus publishes there), so they run with transaction=True:
on_commit callbacks only run when a transaction really commits."""

import json
import time

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from auctions.events import auction_channel
from auctions.models import Bid
from auctions.services import bid_place
from neighborbid import bus
from realtime.layer import redis_channel, user_group
from tests.factories import make_auction, make_user, rid
from tests.money import wallet_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _states_on_the_bus(settings):
    """These follow the states on the bus (the hub's road), whatever REALTIME_FANOUT says."""
    settings.REALTIME = {**settings.REALTIME, "FANOUT": "hub"}


def user_channel(user_id):
    """The Redis channel of a user's group on the channel layer (personal events)."""
    return redis_channel(user_group(user_id))


def _decode(data):
    """The bus carries JSON; the channel layer its own (msgpack) messages {"type", "event"}."""
    try:
        return json.loads(data)
    except ValueError:
        return get_channel_layer().deserialize(data)["event"]


class Listener:
    def __init__(self, *channels):
        self.client = redis.Redis.from_url(settings.REDIS_URL)
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(*channels)
        self.pubsub.get_message(timeout=1)  # subscription confirmations
        for _ in channels[1:]:
            self.pubsub.get_message(timeout=1)

    def messages(self, wait=0.5):
        got, deadline = [], time.monotonic() + wait
        while time.monotonic() < deadline:
            msg = self.pubsub.get_message(timeout=0.05)
            if msg and msg["type"] == "message":
                got.append((msg["channel"].decode(), _decode(msg["data"])))
        return got

    def close(self):
        self.pubsub.close()
        self.client.close()


def test_committed_bid_publishes_state_and_outbid_after_commit():
    auction = make_auction(start_price=10_000)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    listener = Listener(auction_channel(auction.pk), user_channel(first.pk))
    try:
        with transaction.atomic():
            bid_place(auction_id=auction.pk, actor=second, amount=11_000, request_id=rid())
            # inside the transaction nothing has left yet
            assert listener.messages(wait=0.3) == []
        got = listener.messages()
    finally:
        listener.close()
    states = [m for ch, m in got if ch == auction_channel(auction.pk)]
    personal = [m for ch, m in got if ch == user_channel(first.pk)]
    assert [(s["type"], s["seq"], s["current_price"], s["bid_count"]) for s in states] == [("state", 2, 11_000, 2)]
    assert states[0]["min_next_bid"] == 12_000 and states[0]["leader"]
    assert personal and personal[0]["kind"] == "outbid" and personal[0]["released"] == 10_000


def test_rolled_back_bid_publishes_nothing():
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    listener = Listener(auction_channel(auction.pk))
    try:
        with pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012 (the bid and the failure share one transaction)
            bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
            raise RuntimeError("something later in the same transaction failed")
        got = listener.messages()
    finally:
        listener.close()
    assert got == []
    assert Bid.objects.count() == 0 and wallet_of(bidder) == (50_000, 0)


def test_bus_failure_after_commit_never_fails_or_doubles_the_bid(settings):
    # Redis unreachable: the publish fails after the commit; the caller still sees success
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.REDIS_SOCKET_TIMEOUT = 0.2
    bus.reset_redis_client()
    try:
        auction = make_auction(start_price=10_000)
        bidder = make_user(balance=50_000)
        result = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    finally:
        bus.reset_redis_client()
    assert result.bid.pk and Bid.objects.count() == 1
    assert wallet_of(bidder) == (40_000, 10_000)


def test_a_raising_listener_after_commit_does_not_escape():
    calls = []

    def broken(channel, data):
        calls.append(channel)
        raise RuntimeError("listener bug")

    bus.add_local_listener(broken)
    try:
        auction = make_auction(start_price=10_000)
        result = bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    finally:
        bus.remove_local_listener(broken)
    assert result.bid.pk and calls == [auction_channel(auction.pk)]
