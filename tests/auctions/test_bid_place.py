"""bid_place: every rule, accepted and rejected; every rejection changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from auctions.models import Auction, Bid
from auctions.services import auction_cancel, bid_place
from neighborbid.errors import (
    AccountSuspended,
    AuctionNotFound,
    AuctionNotOpen,
    BidTooLow,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    MaximumNotRaised,
    NotEligible,
    OwnAuction,
    PermissionDenied,
    UseBuyNow,
)
from notifications.models import Notification
from tests.factories import make_auction, make_user, neighbourhood, rid, set_end
from tests.money import assert_books_balance, wallet_of, world
from wallets.models import LedgerEntry

pytestmark = pytest.mark.django_db


def rejected(exc_type, **kwargs):
    """Call bid_place expecting exc_type, and prove that nothing changed."""
    before = world()
    with pytest.raises(exc_type) as info:
        bid_place(**kwargs)
    assert world() == before
    return info.value


# --- accepted ----------------------------------------------------------------------------


def test_first_bid_at_start_price_holds_the_amount():
    # given an open auction and a funded neighbour
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    # when they bid the start price
    result = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    # then the amount moves from balance to locked, and they lead
    assert wallet_of(bidder) == (40_000, 10_000)
    auction.refresh_from_db()
    assert (auction.current_price, auction.leader_id, auction.bid_count, auction.seq) == (10_000, bidder.pk, 1, 1)
    assert result.state["current_price"] == 10_000 and result.state["min_next_bid"] == 11_000
    assert result.duplicate is False
    entry = LedgerEntry.objects.get(wallet__user=bidder, kind="bid_hold")
    assert (entry.balance_delta, entry.locked_delta, entry.bid_id) == (-10_000, 10_000, result.bid.pk)
    assert_books_balance()


def test_outbid_releases_previous_leader_and_notifies_them():
    auction = make_auction(start_price=10_000)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    # when a second neighbour bids the minimum next bid
    bid_place(auction_id=auction.pk, actor=second, amount=11_000, request_id=rid())
    # then the first gets everything back and a notification; the second's money is held
    assert wallet_of(first) == (50_000, 0)
    assert wallet_of(second) == (39_000, 11_000)
    note = Notification.objects.get(user=first)
    assert note.kind == "outbid" and note.auction_id == auction.pk
    assert_books_balance()


def test_any_amount_above_minimum_is_accepted_not_only_multiples_of_the_step():
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_001, request_id=rid())
    assert wallet_of(bidder) == (39_999, 10_001)


def test_leader_raising_own_bid_locks_only_the_difference():
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=bidder, amount=15_000, request_id=rid())
    assert wallet_of(bidder) == (35_000, 15_000)
    assert Notification.objects.filter(user=bidder).count() == 0
    assert_books_balance()


def test_national_auction_is_open_to_unverified_users_anywhere():
    auction = make_auction(is_national=True, start_price=10_000)
    far = make_user(balance=20_000, verified=False, place=neighbourhood("정자동", "경기도 성남시 분당구"))
    bid_place(auction_id=auction.pk, actor=far, amount=10_000, request_id=rid())
    assert wallet_of(far) == (10_000, 10_000)


def test_local_bid_within_the_chosen_range_is_accepted():
    # 합정동 → 서교동 is about 0.8 km
    auction = make_auction(seller=make_user(place=neighbourhood("합정동")))
    neighbour = make_user(balance=20_000, place=neighbourhood("서교동"), radius_km=3)
    bid_place(auction_id=auction.pk, actor=neighbour, amount=10_000, request_id=rid())
    assert Bid.objects.filter(bidder=neighbour).count() == 1


def test_scheduled_auction_whose_start_has_come_opens_on_the_first_bid():
    auction = make_auction(start_price=10_000)
    Auction.objects.filter(pk=auction.pk).update(status=Auction.Status.SCHEDULED)
    bidder = make_user(balance=20_000)
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    auction.refresh_from_db()
    assert auction.status == Auction.Status.OPEN and auction.leader_id == bidder.pk


# --- soft close --------------------------------------------------------------------------


def test_bid_in_the_last_window_extends_the_end():
    auction = make_auction(start_price=10_000)
    set_end(auction, timezone.now() + timedelta(seconds=20))
    bidder = make_user(balance=20_000)
    before = timezone.now()
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    auction.refresh_from_db()
    assert auction.ends_at >= before + timedelta(seconds=59)
    assert auction.ends_at <= timezone.now() + timedelta(seconds=60)


def test_bid_before_the_window_does_not_extend():
    auction = make_auction(start_price=10_000)
    end = timezone.now() + timedelta(minutes=5)
    set_end(auction, end)
    bid_place(auction_id=auction.pk, actor=make_user(balance=20_000), amount=10_000, request_id=rid())
    auction.refresh_from_db()
    assert auction.ends_at == end


def test_extension_stops_at_the_cap():
    auction = make_auction(start_price=10_000, soft_close_cap_s=120)
    now = timezone.now()
    # the auction has already been extended to 10 s before its cap
    Auction.objects.filter(pk=auction.pk).update(
        original_ends_at=now - timedelta(seconds=100),
        ends_at=now + timedelta(seconds=10),
        starts_at=now - timedelta(hours=1),
    )
    bid_place(auction_id=auction.pk, actor=make_user(balance=20_000), amount=10_000, request_id=rid())
    auction.refresh_from_db()
    assert auction.ends_at <= auction.original_ends_at + timedelta(seconds=120)
    assert auction.ends_at > now + timedelta(seconds=10)


# --- idempotency -------------------------------------------------------------------------


def test_same_request_id_returns_the_first_outcome_without_a_second_bid():
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    request_id = rid()
    first = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    before = world()
    again = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    assert again.duplicate is True and again.bid.pk == first.bid.pk
    assert world() == before


def test_same_request_id_with_another_amount_is_refused():
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    request_id = rid()
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    rejected(DuplicateRequest, auction_id=auction.pk, actor=bidder, amount=12_000, request_id=request_id)


def test_same_request_id_on_another_auction_is_refused():
    a1, a2 = make_auction(start_price=10_000), make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    request_id = rid()
    bid_place(auction_id=a1.pk, actor=bidder, amount=10_000, request_id=request_id)
    rejected(DuplicateRequest, auction_id=a2.pk, actor=bidder, amount=10_000, request_id=request_id)


def test_resubmitting_a_won_bid_after_the_end_still_returns_the_first_outcome():
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    request_id = rid()
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id)
    set_end(auction, timezone.now() - timedelta(seconds=1))
    assert bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=request_id).duplicate


# --- rejected ----------------------------------------------------------------------------


def test_below_start_price_is_refused_with_the_minimum():
    auction = make_auction(start_price=10_000)
    error = rejected(BidTooLow, auction_id=auction.pk, actor=make_user(balance=50_000), amount=9_999, request_id=rid())
    assert error.details["min_next_bid"] == 10_000 and error.details["current_price"] == 10_000


def test_below_current_plus_increment_is_refused():
    auction = make_auction(start_price=10_000)
    bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())
    error = rejected(BidTooLow, auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_999, request_id=rid())
    assert error.details["min_next_bid"] == 11_000


def test_equal_bid_by_the_leader_is_refused():
    # A leader's new bid raises their maximum (max bidding): the same maximum raises nothing.
    auction = make_auction(start_price=10_000)
    bidder = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    rejected(MaximumNotRaised, auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())


def test_seller_cannot_bid_on_own_item():
    seller = make_user(balance=50_000)
    auction = make_auction(seller=seller)
    rejected(OwnAuction, auction_id=auction.pk, actor=seller, amount=10_000, request_id=rid())


def test_insufficient_balance_is_refused():
    auction = make_auction(start_price=10_000)
    rejected(InsufficientFunds, auction_id=auction.pk, actor=make_user(balance=9_000), amount=10_000, request_id=rid())


def test_locked_money_cannot_be_bid_twice():
    a1, a2 = make_auction(start_price=10_000), make_auction(start_price=10_000)
    bidder = make_user(balance=15_000)
    bid_place(auction_id=a1.pk, actor=bidder, amount=10_000, request_id=rid())
    rejected(InsufficientFunds, auction_id=a2.pk, actor=bidder, amount=10_000, request_id=rid())


def test_bid_at_or_above_buy_now_price_points_to_buy_now():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    error = rejected(UseBuyNow, auction_id=auction.pk, actor=make_user(balance=50_000), amount=30_000, request_id=rid())
    assert error.details["buy_now_price"] == 30_000


def test_bid_after_ends_at_is_refused_even_before_settlement():
    auction = make_auction(start_price=10_000)
    set_end(auction, timezone.now() - timedelta(seconds=1))
    rejected(AuctionNotOpen, auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())


def test_bid_before_start_is_refused():
    seller = make_user()
    auction = make_auction(seller=seller, starts_at=timezone.now() + timedelta(hours=1))
    assert auction.status == Auction.Status.SCHEDULED
    rejected(AuctionNotOpen, auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())


def test_bid_on_cancelled_auction_is_refused():
    seller = make_user()
    auction = make_auction(seller=seller)
    auction_cancel(auction_id=auction.pk, actor=seller)
    rejected(AuctionNotOpen, auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())


def test_bid_on_hidden_auction_is_refused():
    auction = make_auction()
    Auction.objects.filter(pk=auction.pk).update(is_hidden=True)
    rejected(AuctionNotOpen, auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid())


def test_unknown_auction():
    rejected(AuctionNotFound, auction_id=999_999, actor=make_user(balance=50_000), amount=10_000, request_id=rid())


def test_unverified_user_cannot_bid_locally():
    auction = make_auction()
    rejected(
        NotEligible,
        auction_id=auction.pk,
        actor=make_user(balance=50_000, verified=False),
        amount=10_000,
        request_id=rid(),
    )


def test_verification_expires_after_30_days():
    auction = make_auction()
    user = make_user(balance=50_000)
    User.objects.filter(pk=user.pk).update(location_verified_at=timezone.now() - timedelta(days=31))
    rejected(NotEligible, auction_id=auction.pk, actor=user, amount=10_000, request_id=rid())


def test_local_bid_outside_the_chosen_range_is_refused():
    # 합정동 (Mapo) → 역삼동 (Gangnam) is about 11 km
    auction = make_auction(seller=make_user(place=neighbourhood("합정동")))
    far = make_user(balance=50_000, place=neighbourhood("역삼1동", "서울특별시 강남구"), radius_km=10)
    error = rejected(NotEligible, auction_id=auction.pk, actor=far, amount=10_000, request_id=rid())
    assert "km" in error.message


def test_suspended_user_cannot_bid():
    auction = make_auction()
    user = make_user(balance=50_000)
    User.objects.filter(pk=user.pk).update(is_suspended=True, suspended_reason="사기 의심")
    error = rejected(AccountSuspended, auction_id=auction.pk, actor=user, amount=10_000, request_id=rid())
    assert "사기 의심" in error.message


def test_deactivated_user_cannot_bid():
    auction = make_auction()
    user = make_user(balance=50_000)
    User.objects.filter(pk=user.pk).update(is_active=False)
    rejected(PermissionDenied, auction_id=auction.pk, actor=user, amount=10_000, request_id=rid())


@pytest.mark.parametrize("amount", [0, -5_000, 10_000.0, float("nan"), float("inf"), "10000", None, True, 10**13])
def test_malformed_amounts_are_refused(amount):
    auction = make_auction()
    rejected(InvalidAmount, auction_id=auction.pk, actor=make_user(balance=50_000), amount=amount, request_id=rid())


@pytest.mark.parametrize("request_id", ["", "x" * 65, None, 123, "a\nb"])
def test_malformed_request_ids_are_refused(request_id):
    auction = make_auction()
    rejected(
        InvalidRequest, auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=request_id
    )
