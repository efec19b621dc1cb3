"""Lines of plain bids decided inside PostgreSQL (nb_bid_decide_many, migration auctions 0019)
on two auctions at once, by the same people in opposite orders: each line holds its wallets to
the end of its one transaction, so it must take every wallet it can touch up front, by primary
key, as every other writer does. With that up-front lock taken out, each bid takes its own two
wallets as it comes and the lines wait on each other in a cycle: PostgreSQL finds the deadlock
and aborts one (the second test), so the first test, which finds none, has teeth.

And the auction's queue (migration 0020): a bid that loses while it waits its turn is refused on
the committed row, without the row lock."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import DatabaseError, connection, connections, transaction

from auctions.models import Bid
from auctions.services import BidAsk, bid_batch, bid_place, bid_place_many, bidding
from neighborbid.errors import BidTooLow
from tests.factories import make_auction, make_user, rid
from tests.money import assert_books_balance

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

ROUNDS = 12

# nb_bid_decide_many's up-front lock of the line's wallets (the statement after its auction lock)
_UP_FRONT = "ORDER BY w.id FOR UPDATE;\n    FOR i IN"


def crossing_lines(concurrently, monkeypatch) -> list[str]:
    """Rounds of two lines released at once: on auction A the people in one order, on B in the
    other, so each line's second bid needs a wallet the other line's first bid holds. Returns
    the database errors the lines' calls met."""
    errors: list[str] = []
    real = bid_batch.execute_repeated_rows

    def recorded(sql, params):
        try:
            return real(sql, params)
        except DatabaseError as exc:
            errors.append(str(exc).splitlines()[0])
            raise

    monkeypatch.setattr(bid_batch, "execute_repeated_rows", recorded)
    for _ in range(ROUNDS):
        people = [make_user(balance=1_000_000) for _ in range(4)]
        a, b = (make_auction(start_price=10_000, is_national=True, soft_close_window_s=0) for _ in range(2))

        def line(auction, order, people=people):
            asks = [
                BidAsk(actor_id=people[who].pk, amount=10_000 + 1_000 * step, request_id=rid())
                for step, who in enumerate(order)
            ]
            return lambda: bid_place_many(auction_id=auction.pk, bids=asks)

        concurrently([line(a, [0, 1, 2, 3]), line(b, [3, 2, 1, 0])])
    return errors


def test_lines_crossing_on_two_auctions_never_deadlock(concurrently, monkeypatch):
    errors = crossing_lines(concurrently, monkeypatch)
    assert errors == []
    assert_books_balance()


def test_without_the_up_front_wallet_lock_the_lines_deadlock(concurrently, monkeypatch):
    # given nb_bid_decide_many with its up-front wallet lock taken out
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('nb_bid_decide_many'::regproc)")
        (original,) = cursor.fetchone()
        assert _UP_FRONT in original
        cursor.execute(original.replace(_UP_FRONT, "ORDER BY w.id;\n    FOR i IN"))
    try:
        # when the same lines cross
        errors = crossing_lines(concurrently, monkeypatch)
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute(original)
    # then PostgreSQL found a deadlock (the line it aborted went to the Python path: no money is
    # wrong, but the other side of a real deadlock can be any writer)
    print(errors)
    assert any("deadlock" in error for error in errors), errors
    assert_books_balance()


def test_a_bid_that_loses_while_it_waits_in_the_queue_is_refused_without_the_row_lock(monkeypatch):
    # given an auction led at 10,000 (the minimum next bid is 11,000), and its queue held by
    # another transaction
    auction = make_auction(start_price=10_000, is_national=True, soft_close_window_s=0)
    leader, late, quick = (make_user(balance=1_000_000) for _ in range(3))
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    decided: dict[str, tuple[str, str]] = {}  # request id -> (outcome, reason) of nb_bid_decide
    real = bidding.execute_repeated

    def spy(sql, params):
        row = real(sql, params)
        if "nb_bid_decide(" in sql:
            decided[params[3]] = (row[0], row[1])
        return row

    monkeypatch.setattr(bidding, "execute_repeated", spy)
    held, release = threading.Event(), threading.Event()
    answers: dict[str, object] = {}

    def holder():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [auction.pk])
                held.set()
                release.wait(10)
                # the turn before `late`'s: quick's 11,000 (the queue is its own transaction's)
                answers["quick"] = bid_place(auction_id=auction.pk, actor=quick, amount=11_000, request_id=rid())
        finally:
            connections.close_all()

    def waiting_bid():
        try:
            answers["late"] = bid_place(auction_id=auction.pk, actor=late, amount=11_000, request_id="late")
        except BidTooLow as refused:
            answers["late"] = refused
        finally:
            connections.close_all()

    threads = [threading.Thread(target=holder), threading.Thread(target=waiting_bid)]
    threads[0].start()
    assert held.wait(10)
    # when late's 11,000 (not a sure loser on the row it first reads) waits in the queue
    threads[1].start()
    deadline, waited = time.monotonic() + 10, False
    with connection.cursor() as cursor:
        while not waited and time.monotonic() < deadline:
            # late's wait for this auction's turn, on this database (the bigint key's low half)
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 1"
                " AND objid = %s AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [auction.pk],
            )
            waited = cursor.fetchone()[0] == 1
            time.sleep(0.01)
    # and quick's 11,000 commits before its turn comes
    release.set()
    for thread in threads:
        thread.join(20)
        assert not thread.is_alive()
    # then late's bid had waited its turn, and is refused on the committed row (a sure loser,
    # never granted the row lock), with nothing written; quick's stands
    assert waited
    assert isinstance(answers["late"], BidTooLow)
    assert decided["late"] == ("refused", "sure loser")
    assert answers["quick"].bid.amount == 11_000
    assert not Bid.objects.filter(bidder=late).exists()
    assert_books_balance()
