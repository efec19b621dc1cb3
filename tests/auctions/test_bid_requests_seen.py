"""auctions.selectors.bid_requests_seen: which (user, request id) pairs were used for a bid before,
in one statement, exactly (the two id lists also match pairs nobody asked about)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auctions.selectors import bid_requests_seen
from auctions.services import bid_place
from tests.factories import make_auction, make_user

pytestmark = pytest.mark.django_db


def test_only_the_pairs_that_were_bid_are_seen_in_one_statement():
    # given alice bid with request id r-a and bob with r-b
    auction = make_auction(is_national=True, start_price=10_000)
    alice, bob = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, request_id="r-a")
    bid_place(auction_id=auction.pk, actor=bob, amount=11_000, request_id="r-b")
    asked = {(alice.pk, "r-a"), (alice.pk, "r-b"), (bob.pk, "r-a"), (bob.pk, "r-x")}
    # when the four pairs are asked about together
    with CaptureQueriesContext(connection) as queries:
        seen = bid_requests_seen(keys=asked)
    # then only alice's r-a was bid (bob's r-b was not asked about; the crossed pairs were never bid)
    assert seen == {(alice.pk, "r-a")}
    assert len(queries) == 1


def test_nothing_asked_is_nothing_seen_without_a_query():
    with CaptureQueriesContext(connection) as queries:
        assert bid_requests_seen(keys=[]) == set()
    assert len(queries) == 0
