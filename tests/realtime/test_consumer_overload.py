"""The socket door's side of admission (issue 13, item 4): past BID_WAITERS_PER_AUCTION bids in
flight for one auction in this process, a bid is answered with the error frame `overloaded`
and `retry_after`, and nothing changed."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async

from auctions.models import Bid
from tests.money import wallet_of
from tests.realtime.conftest import auction_row_held, receive_until, two_bidders_on_one_auction

pytestmark = [pytest.mark.django_db(transaction=True)]

db = database_sync_to_async


async def test_a_bid_past_the_waiting_bound_gets_overloaded_with_retry_after_and_changes_nothing(settings):
    # given: one waiting place per auction, and that place taken by a bid waiting for the row lock
    settings.NEIGHBORBID = {**settings.NEIGHBORBID, "BID_WAITERS_PER_AUCTION": 1}
    auction, (_first, ws_first), (second, ws_second) = await two_bidders_on_one_auction()
    with auction_row_held(auction.pk):
        await ws_first.send_json_to({"type": "bid", "amount": 10_000, "request_id": uuid.uuid4().hex})
        from auctions import admission

        for _ in range(200):  # until the first bid holds its place (it waits for the lock)
            if admission.in_flight(auction.pk):
                break
            await asyncio.sleep(0.02)
        assert admission.in_flight(auction.pk) == 1

        # when: another bid comes for the same auction
        request_id = uuid.uuid4().hex
        await ws_second.send_json_to({"type": "bid", "amount": 11_000, "request_id": request_id})
        frames = await receive_until(ws_second, lambda m: m["type"] in ("ack", "error"), timeout=5)

    # then: refused at once, with when to come back, and nothing changed for it
    error = frames[-1]
    assert error["type"] == "error" and error["code"] == "overloaded" and error["request_id"] == request_id
    assert error["retry_after"] > 0
    ack = (await receive_until(ws_first, lambda m: m["type"] in ("ack", "error"), timeout=10))[-1]
    assert ack["type"] == "ack"
    assert not await db(Bid.objects.filter(client_request_id=request_id).exists)()
    assert await db(wallet_of)(second) == (100_000, 0)
    for ws in (ws_first, ws_second):
        await ws.disconnect()
