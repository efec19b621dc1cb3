"""The early refusals' twin checks (auctions/consumers.py, _SeenChecks): a sure loser is refused
at the door unless its request id was used for a bid before (a resend, say after a reconnect to
another server); the checks of one process that arrive while one is in flight go together in one
statement, each answered for its own pair."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import OrderedDict

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError

from auctions import consumers
from auctions.models import Bid
from auctions.services import bid_place
from tests import factories as f
from tests.money import wallet_of
from tests.realtime.conftest import eventually, receive_until, two_bidders_on_one_auction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
db = database_sync_to_async


async def _alice_and_bob_with_one_bid_each():
    """A national auction where alice bid with request id r-1 and bob with b-1."""
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    alice = await db(f.make_user)(balance=100_000)
    bob = await db(f.make_user)(balance=100_000)
    await db(bid_place)(auction_id=auction.pk, actor=alice, amount=10_000, request_id="r-1")
    await db(bid_place)(auction_id=auction.pk, actor=bob, amount=11_000, request_id="b-1")
    return alice, bob


@pytest.fixture
def statements(monkeypatch):
    """Every twin-check statement's pairs, in order (the real query runs); the first one waits
    for `hold` to be set, so that others arrive while it is in flight."""
    calls: list[list[tuple[int, str]]] = []
    hold = threading.Event()
    real = consumers._requests_seen

    def recorded(*, keys):
        calls.append(sorted(keys))
        if len(calls) == 1:
            hold.wait(5)
        return real(keys=keys)

    monkeypatch.setattr(consumers, "_requests_seen", recorded)
    return calls, hold


async def test_checks_arriving_while_one_is_in_flight_go_together_in_the_next_statement(statements):
    calls, hold = statements
    # given bids with alice's r-1 and bob's b-1, and a first check in flight
    alice, bob = await _alice_and_bob_with_one_bid_each()
    checks = consumers._SeenChecks()
    first = asyncio.ensure_future(checks.seen((alice.pk, "r-1")))
    await eventually(lambda: len(calls) == 1)
    # when four more arrive meanwhile (one pair twice, one crossing alice's and bob's ids)
    asked = [(alice.pk, "r-1"), (alice.pk, "r-2"), (alice.pk, "b-1"), (alice.pk, "r-2")]
    later = [asyncio.ensure_future(checks.seen(key)) for key in asked]
    await asyncio.sleep(0.1)
    assert len(calls) == 1  # they wait for the one in flight
    hold.set()
    answers = await asyncio.gather(first, *later)
    # then they went in one more statement, and each got its own pair's answer
    assert answers == [True, True, False, False, False]
    assert calls == [[(alice.pk, "r-1")], sorted({(alice.pk, "r-1"), (alice.pk, "r-2"), (alice.pk, "b-1")})]
    assert checks.running is False and checks.waiting == {}


async def test_a_failed_statement_fails_its_checks_and_the_next_check_runs_again(monkeypatch):
    # given a twin-check statement that fails once (the database went away)
    alice, _bob = await _alice_and_bob_with_one_bid_each()
    real, failures = consumers._requests_seen, []

    def failing_once(*, keys):
        if not failures:
            failures.append(keys)
            raise OperationalError("the server closed the connection")
        return real(keys=keys)

    monkeypatch.setattr(consumers, "_requests_seen", failing_once)
    checks = consumers._SeenChecks()
    # when a check meets the failure
    with pytest.raises(OperationalError):
        await checks.seen((alice.pk, "r-1"))
    # then the next check is asked again and answered
    assert await checks.seen((alice.pk, "r-1")) is True
    assert checks.running is False


async def test_a_resend_from_another_server_is_replayed_and_a_fresh_sure_loser_is_refused(monkeypatch):
    # given alice's bid accepted, then overtaken by bob, on sockets of this process
    auction, (alice, ws_alice), (bob, ws_bob) = await two_bidders_on_one_auction()
    first = uuid.uuid4().hex
    await ws_alice.send_json_to({"type": "bid", "amount": 10_000, "request_id": first})
    await receive_until(ws_alice, lambda m: m["type"] == "ack")
    await ws_bob.send_json_to({"type": "bid", "amount": 11_000, "request_id": uuid.uuid4().hex})
    await receive_until(ws_bob, lambda m: m["type"] == "ack")
    await receive_until(ws_alice, lambda m: m["type"] == "state" and m["current_price"] == 11_000)
    # and this process has not seen alice's request id (it went to another server)
    monkeypatch.setattr(consumers, "_KNOWN_REQUESTS", OrderedDict())
    # when alice's client resends it (10,000 is a sure loser by now), then sends a fresh 10,500
    await ws_alice.send_json_to({"type": "bid", "amount": 10_000, "request_id": first})
    replay = (await receive_until(ws_alice, lambda m: m["type"] in ("ack", "error")))[-1]
    fresh = uuid.uuid4().hex
    wallet_before = await db(wallet_of)(alice)
    await ws_alice.send_json_to({"type": "bid", "amount": 10_500, "request_id": fresh})
    refusal = (await receive_until(ws_alice, lambda m: m["type"] in ("ack", "error")))[-1]
    # then the resend gets its first outcome (placed once), and the fresh one is refused
    assert replay["type"] == "ack" and replay["duplicate"] is True and replay["request_id"] == first
    assert refusal["type"] == "error" and refusal["code"] == "bid_too_low" and refusal["min_next_bid"] == 12_000
    assert await db(Bid.objects.filter(bidder=alice).count)() == 1
    assert not await db(Bid.objects.filter(client_request_id=fresh).exists)()
    assert await db(wallet_of)(alice) == wallet_before  # the refusal moved no money
    for ws in (ws_alice, ws_bob):
        await ws.disconnect()
