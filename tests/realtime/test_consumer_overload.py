"""The socket door's side of admission (issue 13, item 4): past the bound of bids in flight for
one auction in this process, a bid is answered with the error frame `overloaded` and
`retry_after`, and nothing changed. With the turn (REALTIME["BID_TURN"], the default) the bound
is the auction's line, REALTIME["BID_LINE"]: a bid waiting its turn holds no database
connection, so the pool's bound (BID_WAITERS_PER_AUCTION) does not cap it, and a bid door, which
takes every bid of its auctions, is not held to a few bids in flight (issue 25). Without the
turn each bid waits in a money call holding a connection, and the pool's bound applies."""

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


async def _second_bid_while_the_first_waits(first_amount: int, second_amount: int):
    """Two bidders on one auction: the first bid waits inside the service for the row lock,
    held elsewhere, while the second is sent. Returns both sockets' answers and the ids."""
    from auctions import admission

    auction, (first, ws_first), (second, ws_second) = await two_bidders_on_one_auction()
    first_id, second_id = uuid.uuid4().hex, uuid.uuid4().hex
    with auction_row_held(auction.pk):
        await ws_first.send_json_to({"type": "bid", "amount": first_amount, "request_id": first_id})
        for _ in range(200):  # until the first bid holds its place (it waits for the lock)
            if admission.in_flight(auction.pk):
                break
            await asyncio.sleep(0.02)
        assert admission.in_flight(auction.pk) == 1
        await ws_second.send_json_to({"type": "bid", "amount": second_amount, "request_id": second_id})
        await asyncio.sleep(0.3)  # the second is refused at once, or waits
        in_line = admission.in_flight(auction.pk)
    first_answer = (await receive_until(ws_first, lambda m: m["type"] in ("ack", "error"), timeout=10))[-1]
    second_answer = (await receive_until(ws_second, lambda m: m["type"] in ("ack", "error"), timeout=10))[-1]
    for ws in (ws_first, ws_second):
        await ws.disconnect()
    return (first, first_answer), (second, second_answer, second_id), in_line


async def test_the_line_holds_more_bids_than_the_pools_bound(settings):
    # given: one waiting place per auction for money calls (the pool's bound), the line's own bound
    settings.NEIGHBORBID = {**settings.NEIGHBORBID, "BID_WAITERS_PER_AUCTION": 1}
    # when: a second bid comes while the first is in the service
    (first, first_ack), (second, second_ack, _id), in_line = await _second_bid_while_the_first_waits(10_000, 15_000)
    # then: the second waited in the line (two places held), and both were accepted in order
    assert in_line == 2
    assert first_ack["type"] == "ack" and second_ack["type"] == "ack", (first_ack, second_ack)
    assert second_ack["state"]["seq"] == first_ack["state"]["seq"] + 1
    assert await db(wallet_of)(first) == (100_000, 0) and await db(wallet_of)(second) == (85_000, 15_000)


@pytest.mark.parametrize(
    ("turn", "line", "pool"),
    [
        # each time the other bound is wide, so only the one under test can refuse
        pytest.param(True, 1, 10, id="the line's bound, with the turn"),
        pytest.param(False, 10, 1, id="the pool's bound, without the turn"),
    ],
)
async def test_a_bid_past_the_bound_gets_overloaded_with_retry_after_and_changes_nothing(settings, turn, line, pool):
    # given: one place per auction, taken by a bid waiting for the row lock
    settings.NEIGHBORBID = {**settings.NEIGHBORBID, "BID_WAITERS_PER_AUCTION": pool}
    settings.REALTIME = {**settings.REALTIME, "BID_TURN": turn, "BID_LINE": line}
    # when: another bid comes for the same auction
    (_first, first_ack), (second, error, second_id), _in_line = await _second_bid_while_the_first_waits(10_000, 11_000)
    # then: refused at once, with when to come back, and nothing changed for it
    assert error["type"] == "error" and error["code"] == "overloaded" and error["request_id"] == second_id
    assert error["retry_after"] > 0
    assert first_ack["type"] == "ack"
    assert not await db(Bid.objects.filter(client_request_id=second_id).exists)()
    assert await db(wallet_of)(second) == (100_000, 0)
