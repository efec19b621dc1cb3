"""One bid per auction at a time in a process (auctions/consumers.py, REALTIME["BID_TURN"]):
a bid that waited behind another bid of the same process is checked against the state that
bid committed, so a bid that lost meanwhile is refused without going to the service, and the
acked state reaches this process's sockets at once (the bus brings it again with the same
seq). The waiting line counts against the admission bound (tests/realtime/test_consumer_overload.py)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from auctions import consumers
from auctions.models import Bid
from tests import factories as f
from tests.money import wallet_of
from tests.realtime.conftest import auction_row_held, eventually, open_socket, receive_until, two_bidders_on_one_auction

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
db = database_sync_to_async


@pytest.fixture
def service_calls(monkeypatch):
    """The bids that reached the bidding service from the socket door (the calls go on)."""
    calls = []
    original = consumers.services.bid_place

    def counting(**kwargs):
        calls.append(kwargs["request_id"])
        return original(**kwargs)

    monkeypatch.setattr(consumers.services, "bid_place", counting)
    return calls


async def test_a_bid_that_lost_while_waiting_its_turn_is_refused_without_the_service(service_calls):
    # given two bidders on one auction in this process, and the auction's row held elsewhere so
    # the first bid waits inside the service
    auction, (first, ws_first), (second, ws_second) = await two_bidders_on_one_auction()
    with auction_row_held(auction.pk):
        # when both bid the same amount, the second while the first is in the service
        first_id, second_id = uuid.uuid4().hex, uuid.uuid4().hex
        await ws_first.send_json_to({"type": "bid", "amount": 10_000, "request_id": first_id})
        await eventually(lambda: first_id in service_calls)
        await ws_second.send_json_to({"type": "bid", "amount": 10_000, "request_id": second_id})
        await asyncio.sleep(0.2)  # the second is waiting its turn
        assert service_calls == [first_id]
    ack = (await receive_until(ws_first, lambda m: m["type"] in ("ack", "error"), timeout=10))[-1]
    refusal = (await receive_until(ws_second, lambda m: m["type"] in ("ack", "error"), timeout=10))[-1]
    # then the first is accepted; the second is refused with the minimum the first left, and it
    # never went to the service; its money is untouched
    assert ack["type"] == "ack"
    assert refusal["type"] == "error" and refusal["code"] == "bid_too_low"
    assert refusal["min_next_bid"] == ack["state"]["min_next_bid"] and refusal["seq"] == ack["state"]["seq"]
    assert service_calls == [first_id]
    assert not await db(Bid.objects.filter(client_request_id=second_id).exists)()
    assert await db(wallet_of)(second) == (100_000, 0)
    for ws in (ws_first, ws_second):
        await ws.disconnect()


async def test_the_next_in_line_still_bids_when_it_is_still_high_enough(service_calls):
    # given the same line: the first bid waits inside the service
    auction, (first, ws_first), (second, ws_second) = await two_bidders_on_one_auction()
    with auction_row_held(auction.pk):
        first_id, second_id = uuid.uuid4().hex, uuid.uuid4().hex
        await ws_first.send_json_to({"type": "bid", "amount": 10_000, "request_id": first_id})
        await eventually(lambda: first_id in service_calls)
        # when the second bids well above it
        await ws_second.send_json_to({"type": "bid", "amount": 15_000, "request_id": second_id})
        await asyncio.sleep(0.2)
    first_ack = (await receive_until(ws_first, lambda m: m["type"] in ("ack", "error"), timeout=10))[-1]
    second_ack = (await receive_until(ws_second, lambda m: m["type"] in ("ack", "error"), timeout=10))[-1]
    # then both are accepted, in the order they came, and the second leads
    assert first_ack["type"] == "ack" and second_ack["type"] == "ack"
    assert service_calls == [first_id, second_id]
    assert second_ack["state"]["seq"] == first_ack["state"]["seq"] + 1 and second_ack["leading"] is True
    assert await db(wallet_of)(first) == (100_000, 0) and await db(wallet_of)(second) == (85_000, 15_000)
    # and the turn is gone once nobody holds or waits for it (no table growing per auction)
    assert auction.pk not in consumers._LINES
    for ws in (ws_first, ws_second):
        await ws.disconnect()


async def test_the_acked_state_reaches_this_processs_watchers_with_the_bus_silent(settings, monkeypatch):
    # given a watcher and a bidder on this process, and a bus that delivers nothing
    from neighborbid import bus

    monkeypatch.setattr(bus, "publish", lambda *args, **kwargs: None)
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    watcher, _ = await open_socket(auction.pk)
    bidder, _ = await open_socket(auction.pk, user=await db(f.make_user)(balance=100_000))
    # when the bid is acked
    await bidder.send_json_to({"type": "bid", "amount": 10_000, "request_id": uuid.uuid4().hex})
    ack = (await receive_until(bidder, lambda m: m["type"] in ("ack", "error")))[-1]
    assert ack["type"] == "ack"
    # then the watcher holds that state
    state = (await receive_until(watcher, lambda m: m["type"] == "state"))[-1]
    assert state["seq"] == ack["state"]["seq"] and state["current_price"] == 10_000
    for ws in (watcher, bidder):
        await ws.disconnect()


@pytest.mark.parametrize("batch", [32, 1])
async def test_the_bids_that_waited_go_to_the_service_together_and_are_answered_in_order(settings, monkeypatch, batch):
    # given four bidders on one auction, the first bid waiting inside the service (the auction's
    # row held elsewhere), and a count of the calls that take several bids at once
    settings.REALTIME = {**settings.REALTIME, "BID_BATCH": batch}
    calls, singles = [], []
    many, one = consumers.services.bid_place_many, consumers.services.bid_place
    monkeypatch.setattr(consumers.services, "bid_place_many", lambda **k: calls.append(len(k["bids"])) or many(**k))
    monkeypatch.setattr(consumers.services, "bid_place", lambda **k: singles.append(k["amount"]) or one(**k))
    auction = await db(f.make_auction)(is_national=True, start_price=10_000)
    people = [await db(f.make_user)(balance=100_000) for _ in range(4)]
    sockets = [(await open_socket(auction.pk, user=person))[0] for person in people]
    ids = [uuid.uuid4().hex for _ in people]
    with auction_row_held(auction.pk):
        await sockets[0].send_json_to({"type": "bid", "amount": 10_000, "request_id": ids[0]})
        await eventually(lambda: singles == [10_000])
        # when three more bids come while it waits: 12,000, then 11,000 (too low after it), 13,000
        for ws, amount, request_id in zip(sockets[1:], (12_000, 11_000, 13_000), ids[1:], strict=True):
            await ws.send_json_to({"type": "bid", "amount": amount, "request_id": request_id})
            await asyncio.sleep(0.05)
    answers = [(await receive_until(ws, lambda m: m["type"] in ("ack", "error"), timeout=10))[-1] for ws in sockets]
    # then the three went to the service in one call, in the order they came (with BID_BATCH 1
    # one by one, the third refused before the service as a sure loser): the second and fourth
    # accepted one after the other, the third refused
    assert (calls, singles) == (([3], [10_000]) if batch > 1 else ([], [10_000, 12_000, 13_000]))
    assert [a["type"] for a in answers] == ["ack", "ack", "error", "ack"]
    assert answers[2]["code"] == "bid_too_low" and answers[2]["request_id"] == ids[2]
    assert [answers[i]["state"]["seq"] for i in (0, 1, 3)] == [1, 2, 3]
    assert answers[3]["leading"] is True and answers[3]["state"]["current_price"] == 13_000
    # and the money is where one by one would have put it
    assert [await db(wallet_of)(p) for p in people] == [(100_000, 0), (100_000, 0), (100_000, 0), (87_000, 13_000)]
    assert not await db(Bid.objects.filter(client_request_id=ids[2]).exists)()
    assert auction.pk not in consumers._LINES
    for ws in sockets:
        await ws.disconnect()
