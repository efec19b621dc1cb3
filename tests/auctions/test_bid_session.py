"""A socket's bid acts only while its session holds (issue 19 #2): bid_place(session_key=…)
checks the session before anything else, repeats included. On the compare-and-set path the
session row is part of the bid's one read, so a socket's bid costs no query more than any other
bid; on the locked path accounts.selectors.session_user checks it first. Both must refuse the
same sessions with the same errors and write nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from auctions.models import Bid
from auctions.services import bid_place, bidding
from neighborbid.errors import AccountSuspended, LoginRequired
from tests.factories import make_auction, make_user, rid
from tests.money import assert_books_balance, wallet_of

pytestmark = pytest.mark.django_db

PATHS = ["compare-and-set", "locked"]


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    if request.param == "locked":
        monkeypatch.setattr(bidding, "CAS_ATTEMPTS", 0)
    return request.param


def session_of(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.session.session_key


def socket_bid(user_id: int, session_key: str, *, auction_id: int, amount: int, request_id: str):
    """As the socket's door calls it: the user's id only, and the session's key."""
    return bid_place(
        auction_id=auction_id, actor=User(pk=user_id), amount=amount, request_id=request_id, session_key=session_key
    )


def test_a_sockets_bid_reads_its_session_in_the_one_read_and_no_query_more():
    # given a leader and a rival signed in on a socket
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    key = session_of(second)
    # when the rival bids through the socket
    with CaptureQueriesContext(connection) as ctx:
        result = socket_bid(second.pk, key, auction_id=auction.pk, amount=11_000, request_id=rid())
    # then two statements, as for any bid: the read (with the session) and the write
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sql) == 2, "\n".join(sql)
    assert "django_session" in sql[0] and sql[1].startswith("WITH cas_auction")
    assert result.bid.bidder_id == second.pk and wallet_of(second) == (39_000, 11_000)
    assert_books_balance()


def _log_out(user: User, key: str) -> None:
    Session.objects.filter(session_key=key).delete()


def _expire(user: User, key: str) -> None:
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))


def _change_password(user: User, key: str) -> None:
    user.set_password("a-whole-new-password-42")
    user.save()


def _deactivate(user: User, key: str) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def _suspend(user: User, key: str) -> None:
    User.objects.filter(pk=user.pk).update(is_suspended=True, suspended_reason="테스트")


ENDINGS = [
    (_log_out, LoginRequired),
    (_expire, LoginRequired),
    (_change_password, LoginRequired),
    (_deactivate, LoginRequired),
    (_suspend, AccountSuspended),
]


@pytest.mark.parametrize(("end", "error"), ENDINGS, ids=[e.__name__.strip("_") for e, _ in ENDINGS])
def test_a_session_that_ended_bids_nothing_and_gets_no_replay(path, end, error):
    # given a bidder whose socket bid was accepted, and whose session then ended
    auction = make_auction(start_price=10_000, is_national=True)
    bidder = make_user(balance=50_000)
    key = session_of(bidder)
    accepted = rid()
    socket_bid(bidder.pk, key, auction_id=auction.pk, amount=10_000, request_id=accepted)
    end(bidder, key)
    bids, money = Bid.objects.count(), wallet_of(bidder)
    # when the socket bids again, and resends the accepted request
    with pytest.raises(error):
        socket_bid(bidder.pk, key, auction_id=auction.pk, amount=12_000, request_id=rid())
    with pytest.raises(error):
        socket_bid(bidder.pk, key, auction_id=auction.pk, amount=10_000, request_id=accepted)
    # then nothing was written, and the refusal said who first (no replay of the first outcome)
    assert Bid.objects.count() == bids and wallet_of(bidder) == money
    assert_books_balance()


def test_another_users_session_is_not_a_credential(path):
    # given two users, and the session of one of them
    auction = make_auction(start_price=10_000, is_national=True)
    mine, theirs = make_user(balance=50_000), make_user(balance=50_000)
    # when a bid for one user comes with the other user's session
    with pytest.raises(LoginRequired):
        socket_bid(theirs.pk, session_of(mine), auction_id=auction.pk, amount=10_000, request_id=rid())
    # then nothing was written
    assert Bid.objects.count() == 0 and wallet_of(theirs) == (50_000, 0)
