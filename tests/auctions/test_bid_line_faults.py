"""A line of bids (bid_place_many) that fails in the database: a lock timeout under overload
stops the line after one wait, every bid of it answered with that error and nothing written,
while a twin or a deadlock, which the Python path can still decide, goes there
(auctions.services.bid_batch.line_stops). On real PostgreSQL: the auction's row is held by
another session and this session's lock_timeout is short, so the waits are PostgreSQL's own."""

from __future__ import annotations

import psycopg
import pytest
from django.db import IntegrityError, OperationalError, connection

from auctions.services import bid_batch, bid_place, bid_place_many, bidding
from neighborbid import bus
from tests.auctions.test_bid_batch import STEP, asks_of, rows, world
from tests.money import assert_books_balance
from tests.realtime.conftest import auction_row_held

pytestmark = pytest.mark.django_db(transaction=True)  # another session must see the auction


class LockWaits:
    """Counts the lock timeouts this session met: the errors of statements through Django's
    cursor (the compare-and-set batch's pipelined statements included) and of the batch's one
    transaction, each error once (an error raised inside the pipeline is seen by both)."""

    def __init__(self, monkeypatch) -> None:
        self.errors: set[int] = set()
        real = bid_batch.execute_in_one_transaction

        def in_one_transaction(statements):
            try:
                return real(statements)
            except OperationalError as error:
                self.count(error)
                raise

        monkeypatch.setattr(bid_batch, "execute_in_one_transaction", in_one_transaction)

    @property
    def timed_out(self) -> int:
        return len(self.errors)

    def count(self, error: OperationalError) -> None:
        if isinstance(error.__cause__, psycopg.errors.LockNotAvailable):
            self.errors.add(id(error.__cause__))

    def __call__(self, execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except OperationalError as error:
            self.count(error)
            raise


@pytest.fixture
def short_lock_timeout():
    """lock_timeout at 200 ms on this session's connection, and back to its own setting on the
    same connection after (never handed back to the pool changed)."""
    connection.ensure_connection()
    pg = connection.connection
    pg.execute("SET lock_timeout = '200ms'")
    try:
        yield
    finally:
        pg.execute("RESET lock_timeout")


@pytest.mark.parametrize("in_server", [True, False], ids=["nb_bid_decide_many", "the compare-and-set batch"])
def test_a_line_that_times_out_answers_every_bid_with_the_timeout_after_one_wait(
    monkeypatch, short_lock_timeout, in_server
):
    # given a live auction with a leader, whose row another session holds (overload, a stuck
    # writer), and a line of three bids at the minimum
    seller, people, auction, roles = world()
    bid_place(auction_id=auction.pk, actor=people["a"], amount=10_000, request_id="first")
    monkeypatch.setattr(bidding, "SQL_DECIDE", in_server)
    asks = asks_of([("b", 10_000 + STEP, None), ("c", 10_000 + STEP, None), ("d", 10_000 + STEP, None)], people, seller)
    before = rows(auction, roles)
    waits = LockWaits(monkeypatch)
    heard: list[str] = []  # this process's bus hears every event published, at once

    def listener(channel: str, data: str) -> None:
        heard.append(channel)

    # when the line is placed while the row is held
    bus.add_local_listener(listener)
    try:
        with auction_row_held(auction.pk), connection.execute_wrapper(waits):
            outcomes = bid_place_many(auction_id=auction.pk, bids=asks)
    finally:
        bus.remove_local_listener(listener)
    # then every bid is answered with the lock timeout, after one wait in all (not one more on
    # the Python path, and one for each bid after it), and nothing changed
    assert len(outcomes) == 3
    assert all(
        isinstance(outcome, OperationalError) and isinstance(outcome.__cause__, psycopg.errors.LockNotAvailable)
        for outcome in outcomes
    ), outcomes
    assert waits.timed_out == 1
    assert rows(auction, roles) == before and heard == []
    assert_books_balance()


def fail_once(monkeypatch, name: str, cause: type[psycopg.Error]) -> list[str]:
    """bid_batch's `name` (its nb_bid_decide_many call, or the batch's one transaction) fails
    once in the database with `cause`, as Django raises it, nothing of it run; returns what
    failed."""
    failed: list[str] = []
    real = getattr(bid_batch, name)

    def failing(*args):
        if not failed:
            failed.append(name)
            try:
                raise cause("from the test")
            except psycopg.Error as error:
                wrapped = IntegrityError if isinstance(error, psycopg.IntegrityError) else OperationalError
                raise wrapped(str(error)) from error
        return real(*args)

    monkeypatch.setattr(bid_batch, name, failing)
    return failed


@pytest.mark.parametrize(
    "cause", [psycopg.errors.DeadlockDetected, psycopg.errors.UniqueViolation], ids=["a deadlock", "a twin"]
)
@pytest.mark.parametrize("in_server", [True, False], ids=["nb_bid_decide_many", "the compare-and-set batch"])
def test_a_line_that_met_a_deadlock_or_a_twin_is_decided_again_by_the_python_path(monkeypatch, cause, in_server):
    # given a live auction, and a line whose one call (or one transaction) fails in the database
    # with what the Python path can still decide (nothing of it was written)
    seller, people, auction, _roles = world()
    monkeypatch.setattr(bidding, "SQL_DECIDE", in_server)
    failed = fail_once(monkeypatch, "execute_repeated_rows" if in_server else "execute_in_one_transaction", cause)
    asks = asks_of([("a", 10_000, None), ("b", 10_000 + STEP, None)], people, seller)
    # when the line is placed
    outcomes = bid_place_many(auction_id=auction.pk, bids=asks)
    # then the Python path placed both, in order, and the books balance
    assert failed
    assert [outcome.leading for outcome in outcomes] == [True, True], outcomes
    auction.refresh_from_db()
    assert auction.current_price == 10_000 + STEP and auction.leader_id == people["b"].pk
    assert_books_balance()
