"""The bid's hot path touches the database as few times as the rules allow (issues 13, 19):
one read of the committed state (a repeat, the auction, the wallets, the acting user) and one
compare-and-set write in which the auction's row lock lives for that statement alone.
After CAS_ATTEMPTS conflicts (or with CAS_ATTEMPTS = 0) the locked transaction decides: lock
the auction, lock the wallets by primary key, one write."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auctions.models import Bid
from auctions.services import bid_place, bidding
from neighborbid.errors import BidTooLow
from tests.factories import make_auction, make_user, rid
from tests.money import assert_books_balance, wallet_of

pytestmark = pytest.mark.django_db


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]


def outbid():
    """A national auction led at 10,000; another bidder's 11,000, its statements captured."""
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    with CaptureQueriesContext(connection) as ctx:
        result = bid_place(auction_id=auction.pk, actor=second, amount=11_000, request_id=rid())
    return _statements(ctx), result, first, second


def assert_outbid_written(result, first, second) -> None:
    """Everything an outbid writes, whichever path wrote it."""
    assert Bid.objects.get(pk=result.bid.pk).amount == 11_000
    assert wallet_of(first) == (50_000, 0) and wallet_of(second) == (39_000, 11_000)
    assert first.notifications.filter(kind="outbid").count() == 1
    assert_books_balance()


def test_a_plain_outbid_is_one_call_decided_inside_postgresql():
    # given a national auction with a leader, when another bidder outbids them (plain bids)
    sql, result, first, second = outbid()
    # then: one statement, the call that locks, decides and writes (no read before it)
    assert len(sql) == 1, "\n".join(sql)
    assert sql[0].startswith("SELECT * FROM nb_bid_decide(")
    # and it did everything the other paths do
    assert_outbid_written(result, first, second)


def test_an_outbid_is_two_statements_and_the_lock_lives_for_one_of_them(monkeypatch):
    monkeypatch.setattr(bidding, "SQL_DECIDE", False)
    # given a national auction with a leader, when another bidder outbids them (plain bids)
    sql, result, first, second = outbid()
    # then: one read (no lock: the repeat, the auction, the wallets, the acting user), and one
    # compare-and-set write
    assert len(sql) == 2, "\n".join(sql)
    assert "FOR UPDATE" not in sql[0]
    assert all(table in sql[0] for table in ("auctions_auction", "wallets_wallet", "accounts_user"))
    assert sql[1].startswith("WITH cas_auction AS (SELECT")
    # and the one write did everything the locked path does
    assert_outbid_written(result, first, second)


def test_the_locked_path_is_five_statements_three_of_them_under_the_lock(monkeypatch):
    monkeypatch.setattr(bidding, "CAS_ATTEMPTS", 0)
    # given a national auction with a leader, when another bidder outbids them (plain bids)
    sql, result, first, second = outbid()
    # then: pre-read, acting user, lock auction, lock wallets, one write
    assert len(sql) == 5, "\n".join(sql)
    assert sql[2].rstrip().endswith("FOR UPDATE OF a") and "auctions_auction" in sql[2]
    assert sql[3].rstrip().endswith("FOR UPDATE") and "wallets_wallet" in sql[3]
    assert sql[4].startswith("WITH new_bids AS (INSERT")
    # and the one write did everything the ORM path did
    assert_outbid_written(result, first, second)


def test_a_refusal_takes_no_lock_and_writes_nothing():
    auction = make_auction(start_price=10_000, is_national=False)
    leader, late = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    with CaptureQueriesContext(connection) as ctx, pytest.raises(BidTooLow):
        bid_place(auction_id=auction.pk, actor=late, amount=10_000, request_id=rid())
    sql = _statements(ctx)
    # the one read (with the acting user) decided it: no lock, no write, no twin lookup (the
    # snapshot that refused it held no bid with this request id)
    assert len(sql) == 1, "\n".join(sql)
    assert not any("FOR UPDATE" in s or s.startswith(("INSERT", "UPDATE", "WITH")) for s in sql)
    assert wallet_of(late) == (50_000, 0)


def test_a_refusal_under_the_lock_is_one_locked_statement_and_writes_nothing(monkeypatch):
    monkeypatch.setattr(bidding, "CAS_ATTEMPTS", 0)
    auction = make_auction(start_price=10_000, is_national=False)
    leader, late = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=10_000, request_id=rid())
    with CaptureQueriesContext(connection) as ctx, pytest.raises(BidTooLow):
        bid_place(auction_id=auction.pk, actor=late, amount=10_000, request_id=rid())
    sql = _statements(ctx)
    # pre-read, acting user, lock auction, and the twin check after the refusal; no write
    assert len(sql) == 4, "\n".join(sql)
    assert not any(s.startswith(("INSERT", "UPDATE", "WITH")) for s in sql)
    assert wallet_of(late) == (50_000, 0)
