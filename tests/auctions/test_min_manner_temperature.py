"""A local auction's minimum 매너온도 (the seller's option, off by default): enforced under the
auction lock for bids and buy-now; never on national auctions."""

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.services import user_temperature_set
from auctions.models import Auction
from auctions.services import auction_buy_now, auction_create, bid_place
from neighborbid.errors import InvalidRequest, NotEligible
from tests.factories import make_auction, make_user, rid
from tests.money import wallet_of, world

pytestmark = pytest.mark.django_db


def cold_bidder(temperature: str = "35.0"):
    user = make_user(balance=100_000)
    user_temperature_set(user_id=user.pk, temperature=Decimal(temperature))
    return user


def test_off_by_default():
    auction = make_auction()
    assert auction.min_manner_temperature is None
    bid_place(auction_id=auction.pk, actor=cold_bidder("10.0"), amount=10_000, request_id=rid())


def test_a_bidder_below_the_minimum_is_refused_and_nothing_changes():
    # given a local auction that admits only 36.5 °C and above, and a bidder at 35.0 °C
    auction = make_auction(min_manner_temperature=Decimal("36.5"), buy_now_price=50_000)
    bidder = cold_bidder("35.0")
    before = world()
    # when they bid or buy now
    for attempt in (
        lambda: bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid()),
        lambda: auction_buy_now(auction_id=auction.pk, actor=bidder, request_id=rid()),
    ):
        with pytest.raises(NotEligible) as info:
            attempt()
        # then they are told why, in 해요체, and nothing changed
        assert "매너온도 36.5°C 이상" in info.value.message and "35.0°C예요" in info.value.message
    assert world() == before
    assert wallet_of(bidder) == (100_000, 0)


def test_a_bidder_at_or_above_the_minimum_may_bid():
    auction = make_auction(min_manner_temperature=Decimal("36.5"))
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())  # 36.5
    warm = cold_bidder("40.0")
    bid_place(auction_id=auction.pk, actor=warm, amount=11_000, request_id=rid())
    assert Auction.objects.get(pk=auction.pk).leader_id == warm.pk


def test_the_temperature_now_decides_not_the_stale_session_user():
    # the bidder's temperature dropped after they signed in: the service re-reads it
    auction = make_auction(min_manner_temperature=Decimal("36.5"))
    bidder = make_user(balance=50_000)
    user_temperature_set(user_id=bidder.pk, temperature=Decimal("36.4"))
    before = world()
    with pytest.raises(NotEligible):
        bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())  # stale actor object
    assert world() == before


def test_it_does_not_apply_to_national_auctions():
    seller = make_user()
    # the listing service refuses the option on a national auction ...
    with pytest.raises(InvalidRequest):
        make_auction(seller=seller, is_national=True, min_manner_temperature=Decimal("36.5"))
    # ... and a national auction carrying one anyway (admin, old data) ignores it
    auction = make_auction(seller=seller, is_national=True)
    Auction.objects.filter(pk=auction.pk).update(min_manner_temperature=Decimal("90.0"))
    bid_place(auction_id=auction.pk, actor=cold_bidder("20.0"), amount=10_000, request_id=rid())
    assert Auction.objects.get(pk=auction.pk).bid_count == 1


@pytest.mark.parametrize("value", [Decimal("-1"), Decimal("99.1"), Decimal("NaN"), 36.5, "36.5"])
def test_the_listing_service_refuses_a_bad_minimum(value):
    with pytest.raises(InvalidRequest):
        auction_create(
            actor=make_user(),
            title="책상",
            start_price=10_000,
            duration=timedelta(hours=2),
            min_manner_temperature=value,
        )
    assert Auction.objects.count() == 0
