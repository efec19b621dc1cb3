"""Max (proxy) bidding: the rule itself (auctions.rules.proxy_bid) and the bidding service's
escrow of whole maximums, each case with nothing changed on a refusal (issue 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from auctions.models import Auction, Bid
from auctions.rules import AUTO, BID, RAISE, BidRow, bid_needs_confirmation, proxy_bid
from auctions.services import auction_cancel, auction_settle, bid_place
from neighborbid.errors import InvalidAmount, MaximumNotRaised, UseBuyNow
from tests.factories import make_auction, make_moderator, make_user, rid, set_end
from tests.money import assert_books_balance, wallet_of, world

# --- the rule, pure -------------------------------------------------------------------------


def test_the_first_bid_leads_at_its_amount_holding_its_whole_maximum():
    out = proxy_bid(leader_id=None, leader_max=None, price=10_000, bidder_id=1, amount=10_000, max_amount=50_000)
    assert (out.leader_id, out.leader_max, out.price) == (1, 50_000, 10_000)
    assert out.rows == (BidRow(1, 10_000, 50_000, BID),) and out.hold == (1, 50_000) and out.release is None


def test_a_higher_maximum_wins_one_step_above_the_old_one_after_its_automatic_answer():
    out = proxy_bid(leader_id=1, leader_max=15_000, price=10_000, bidder_id=2, amount=11_000, max_amount=50_000)
    assert (out.leader_id, out.price) == (2, 16_000)  # 15,000 + the 1,000 step
    assert [r.kind for r in out.rows] == [BID, AUTO, AUTO]
    assert [(r.bidder_id, r.amount) for r in out.rows] == [(2, 11_000), (1, 15_000), (2, 16_000)]
    assert out.hold == (2, 50_000) and out.release == (1, 15_000)


def test_the_price_is_capped_at_the_winning_maximum():
    out = proxy_bid(leader_id=1, leader_max=15_000, price=10_000, bidder_id=2, amount=11_000, max_amount=15_500)
    assert (out.leader_id, out.price) == (2, 15_500)


def test_a_lower_maximum_loses_at_once_to_the_leaders_automatic_bid():
    out = proxy_bid(leader_id=1, leader_max=30_000, price=10_000, bidder_id=2, amount=12_000, max_amount=20_000)
    assert (out.leader_id, out.leader_max, out.price) == (1, 30_000, 21_000)
    assert [(r.bidder_id, r.kind) for r in out.rows] == [(2, BID), (1, AUTO)]
    assert out.hold is None and out.release is None  # no money moves


def test_equal_maximums_the_earlier_leads_at_that_maximum():
    out = proxy_bid(leader_id=1, leader_max=20_000, price=10_000, bidder_id=2, amount=12_000, max_amount=20_000)
    assert (out.leader_id, out.price) == (1, 20_000)


def test_the_leader_bidding_again_raises_the_maximum_never_the_price():
    out = proxy_bid(leader_id=1, leader_max=20_000, price=12_000, bidder_id=1, amount=13_000, max_amount=30_000)
    assert (out.leader_id, out.leader_max, out.price) == (1, 30_000, 12_000)
    assert out.rows == (BidRow(1, 12_000, 30_000, RAISE),) and out.hold == (1, 10_000) and not out.price_moved


@pytest.mark.parametrize(
    ("amount", "maximum", "buy_now", "asked"),
    [
        (20_000, None, None, False),  # twice the minimum: fine
        (20_001, None, None, True),  # more than twice: a slip of a zero?
        (10_000, 30_000, None, True),  # the maximum counts too
        (30_000, None, 25_000, False),  # at/above buy-now: the service refuses it with its reason
        (10_000_000_001, None, None, False),  # above the price limit: the same
    ],
)
def test_a_bid_far_above_the_minimum_is_asked_about_unless_it_is_refused_anyway(amount, maximum, buy_now, asked):
    assert (
        bid_needs_confirmation(
            amount=amount, maximum=maximum, minimum=10_000, buy_now_price=buy_now, price_max=10_000_000_000
        )
        is asked
    )


# --- the service: escrow of whole maximums -----------------------------------------------------

pytestmark_db = pytest.mark.django_db


@pytest.mark.django_db
def test_the_leaders_whole_maximum_is_held_and_released_whole_when_outbid():
    auction = make_auction(start_price=10_000)
    alice, bob = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=40_000, request_id=rid())
    assert wallet_of(alice) == (60_000, 40_000)
    result = bid_place(auction_id=auction.pk, actor=bob, amount=11_000, max_amount=45_000, request_id=rid())
    assert result.leading and result.my_max == 45_000
    auction.refresh_from_db()
    assert (auction.current_price, auction.leader_id, auction.leader_max) == (41_000, bob.pk, 45_000)
    assert wallet_of(alice) == (100_000, 0) and wallet_of(bob) == (55_000, 45_000)
    assert list(auction.bids.order_by("id").values_list("kind", flat=True)) == ["bid", "bid", "auto", "auto"]
    assert_books_balance()


@pytest.mark.django_db
def test_a_maximum_that_loses_at_once_moves_no_money_and_tells_the_bidder():
    auction = make_auction(start_price=10_000)
    alice, bob = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=40_000, request_id=rid())
    result = bid_place(auction_id=auction.pk, actor=bob, amount=20_000, request_id=rid())
    assert not result.leading and result.my_max is None
    auction.refresh_from_db()
    assert (auction.current_price, auction.leader_id) == (21_000, alice.pk)
    assert wallet_of(bob) == (100_000, 0) and wallet_of(alice) == (60_000, 40_000)
    assert bob.notifications.filter(kind="outbid").count() == 1
    assert_books_balance()


@pytest.mark.django_db
def test_raising_holds_only_the_difference_and_lowering_is_refused_with_nothing_changed():
    auction = make_auction(start_price=10_000)
    alice = make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=30_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=alice, amount=11_000, max_amount=50_000, request_id=rid())
    auction.refresh_from_db()
    assert (auction.current_price, auction.leader_max, auction.seq) == (10_000, 50_000, 1)  # nothing public moved
    assert wallet_of(alice) == (50_000, 50_000)
    before = world()
    with pytest.raises(MaximumNotRaised):
        bid_place(auction_id=auction.pk, actor=alice, amount=11_000, max_amount=40_000, request_id=rid())
    assert world() == before


@pytest.mark.django_db
def test_a_maximum_at_or_above_buy_now_points_to_buy_now_and_changes_nothing():
    auction = make_auction(start_price=10_000, buy_now_price=60_000)
    alice = make_user(balance=100_000)
    before = world()
    with pytest.raises(UseBuyNow):
        bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=60_000, request_id=rid())
    with pytest.raises(InvalidAmount):
        bid_place(auction_id=auction.pk, actor=alice, amount=20_000, max_amount=15_000, request_id=rid())
    assert world() == before


@pytest.mark.django_db
def test_an_automatic_bid_near_the_end_extends_the_auction():
    auction = make_auction(start_price=10_000)
    alice, bob = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=40_000, request_id=rid())
    set_end(auction, timezone.now() + timedelta(seconds=20))
    auction.refresh_from_db()
    end = auction.ends_at
    bid_place(auction_id=auction.pk, actor=bob, amount=11_000, request_id=rid())  # alice's maximum answers
    auction.refresh_from_db()
    assert auction.leader_id == alice.pk and auction.ends_at > end


@pytest.mark.django_db
def test_the_winner_pays_the_price_and_gets_the_rest_of_the_maximum_back():
    auction = make_auction(start_price=10_000)
    alice, bob = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=40_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=bob, amount=15_000, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=auction.pk)
    auction.refresh_from_db()
    assert auction.status == Auction.Status.SOLD and auction.current_price == 16_000
    assert wallet_of(alice) == (84_000, 0)  # 16,000 in the trade's escrow
    assert_books_balance()


@pytest.mark.django_db
def test_cancelling_releases_the_whole_maximum():
    auction = make_auction(start_price=10_000)
    alice = make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=40_000, request_id=rid())
    auction_cancel(auction_id=auction.pk, actor=make_moderator(), reason="테스트")
    assert wallet_of(alice) == (100_000, 0)
    assert_books_balance()


@pytest.mark.django_db
def test_a_repeat_with_another_maximum_is_a_duplicate_request():
    from neighborbid.errors import DuplicateRequest

    auction = make_auction(start_price=10_000)
    alice = make_user(balance=100_000)
    request_id = rid()
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=40_000, request_id=request_id)
    again = bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=40_000, request_id=request_id)
    assert again.duplicate and Bid.objects.filter(bidder=alice).count() == 1
    with pytest.raises(DuplicateRequest):
        bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=45_000, request_id=request_id)


@pytest.mark.django_db
def test_a_request_id_pins_the_maximum_it_asked_for():
    """Issue 18 #6: a bid with a maximum resent without one, or a plain bid resent with one, is
    not the same request (it used to answer duplicate: true)."""
    from neighborbid.errors import DuplicateRequest

    auction = make_auction(start_price=10_000)
    alice, bob = make_user(balance=100_000), make_user(balance=100_000)
    with_max, plain = rid(), rid()
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=20_000, request_id=with_max)
    bid_place(auction_id=auction.pk, actor=bob, amount=21_000, request_id=plain)
    before = world()

    for actor, request_id, max_amount in ((alice, with_max, None), (bob, plain, 30_000)):
        amount = 10_000 if actor is alice else 21_000
        with pytest.raises(DuplicateRequest):
            bid_place(auction_id=auction.pk, actor=actor, amount=amount, max_amount=max_amount, request_id=request_id)
        assert world() == before
    # the identical resends are still answered with the first outcome
    assert bid_place(
        auction_id=auction.pk, actor=alice, amount=10_000, max_amount=20_000, request_id=with_max
    ).duplicate
    assert bid_place(auction_id=auction.pk, actor=bob, amount=21_000, request_id=plain).duplicate
    assert world() == before


@pytest.mark.django_db
def test_a_raise_request_id_pins_the_new_maximum():
    from neighborbid.errors import DuplicateRequest

    auction = make_auction(start_price=10_000)
    alice = make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=alice, amount=10_000, max_amount=20_000, request_id=rid())
    raise_id = rid()
    raised = bid_place(auction_id=auction.pk, actor=alice, amount=11_000, max_amount=30_000, request_id=raise_id)
    assert raised.bid.kind == Bid.Kind.RAISE and wallet_of(alice) == (70_000, 30_000)
    before = world()

    for amount, max_amount in ((11_000, 35_000), (11_000, None), (31_000, None), (11_000, 29_000)):
        with pytest.raises(DuplicateRequest):
            bid_place(auction_id=auction.pk, actor=alice, amount=amount, max_amount=max_amount, request_id=raise_id)
        assert world() == before
    again = bid_place(auction_id=auction.pk, actor=alice, amount=11_000, max_amount=30_000, request_id=raise_id)
    assert again.duplicate and again.bid.pk == raised.bid.pk and world() == before
