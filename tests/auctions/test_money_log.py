"""Every money action leaves one structured log line with its outcome."""

import logging

import pytest

from auctions.services import bid_place
from neighborbid.errors import MaximumNotRaised
from tests.factories import make_auction, make_user, rid

pytestmark = pytest.mark.django_db


def money_lines(caplog):
    return [r.fields for r in caplog.records if r.name == "neighborbid.money" and hasattr(r, "fields")]


def test_accepted_and_refused_bids_are_logged_with_their_outcome(caplog):
    caplog.set_level(logging.INFO, logger="neighborbid.money")
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    caplog.clear()
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    with pytest.raises(MaximumNotRaised):  # the leader's same maximum again
        bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    lines = money_lines(caplog)
    assert [(x["event"], x["outcome"], x.get("code")) for x in lines] == [
        ("money.bid", "ok", None),
        ("money.bid", "refused", "maximum_not_raised"),
    ]
    assert all(x["auction_id"] == auction.pk and x["user_id"] == bidder.pk and x["amount"] == 10_000 for x in lines)
