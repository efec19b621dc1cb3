"""Issue 9 #11: a replay is decided outside transaction.atomic(). Returning it from inside the
block would commit whatever the locked attempt had written before it was refused."""

from __future__ import annotations

import pytest

from auctions.services import bid_place, bidding
from neighborbid.errors import BidTooLow
from notifications.models import Notification
from tests.factories import make_auction, make_user, rid

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_refused_locked_attempt_that_finds_its_twin_commits_nothing_it_wrote(monkeypatch):
    # given a bid already placed with request id r (its twin, say from another tab)
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=100_000)
    request_id = rid()
    first = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    # and a locked attempt that writes something, then is refused (a check moved below a write)
    real_check = bidding._bid_check

    def check_after_a_write(auction, **kwargs):
        Notification.objects.create(user_id=bidder.pk, kind="outbid", message="mid-transaction write")
        raise BidTooLow.below(99_000)

    monkeypatch.setattr(bidding, "_bid_check", check_after_a_write)
    monkeypatch.setattr(
        bidding,
        "_bid_preread",
        lambda **kw: (
            None,
            {
                "status": "open",
                "current_price": 0,
                "leader_id": None,
                "seq": 0,
                "is_national": False,
                "seller_id": 0,
                "seller_linked": False,
            },
        ),
    )
    # when the same request arrives again, misses the first repeat check, and is refused
    again = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    monkeypatch.setattr(bidding, "_bid_check", real_check)
    # then it is answered as the repeat it is, and the refused attempt's write is gone
    assert again.duplicate and again.bid.pk == first.bid.pk
    assert not Notification.objects.filter(message="mid-transaction write").exists()
