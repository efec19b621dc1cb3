"""realtime.consumers.money_call gives its pooled connection back when the call ends.

A call runs its function inside a copy of the caller's context, and Django keeps a connection in
that context (asgiref Local); channels' database_sync_to_async tidies connections outside it, so
before the fix a call refused by the session check (seen: two of three) left its pooled PostgreSQL
connection checked out on a money thread (the stray "idle" session the test run's summary listed
at teardown). Red without realtime.consumers._giving_the_connection_back: `assert 2 <= 0`."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connections

from tests.realtime.conftest import open_socket
from tests.realtime.test_consumer import _expect_error, db, national, user

pytestmark = [pytest.mark.django_db(transaction=True)]


def _checked_out() -> int:
    stats = connections["default"].pool.get_stats()
    return stats["pool_size"] - stats["pool_available"]


async def test_a_socket_refused_for_an_ended_session_leaves_no_connection_checked_out():
    # given: a bidder's socket on a national auction, whose password then changes elsewhere
    auction = await national()
    bidder = await user()
    ws, _ = await open_socket(auction.pk, user=bidder)

    @db
    def change_password():
        bidder.set_password("a-whole-new-password-42")
        bidder.save()

    await change_password()
    before = _checked_out()

    # when: the socket bids, and the money thread's session check refuses it
    for n in range(3):
        await _expect_error(
            ws, {"type": "bid", "amount": 10_000, "request_id": f"pw-{n}"}, "login_required", request_id=f"pw-{n}"
        )
    await ws.disconnect()

    # then: the connections the money threads used are back in the pool (a leaked one never
    # comes back; the wait only lets a background read of the live machinery, e.g. a hub
    # state load still finishing for an earlier test, give its own back)
    for _ in range(100):
        if _checked_out() <= before:
            break
        await asyncio.sleep(0.02)
    assert _checked_out() <= before
