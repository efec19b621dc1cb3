"""auction_buy_now: ends the auction at once; the buyer pays into a trade's escrow (the seller is
credited when the buyer confirms receipt, tests/trades)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from auctions.models import Auction
from auctions.services import auction_buy_now, bid_place
from neighborbid.errors import AuctionNotOpen, BuyNowUnavailable, InsufficientFunds, NotEligible, OwnAuction
from notifications.models import Notification
from tests.factories import make_auction, make_user, rid, set_end
from tests.money import assert_books_balance, wallet_of, world
from trades.models import Trade
from wallets.models import LedgerEntry

pytestmark = pytest.mark.django_db


def rejected(exc_type, **kwargs):
    before = world()
    with pytest.raises(exc_type):
        auction_buy_now(**kwargs)
    assert world() == before


def test_buy_now_without_bids_sells_at_once():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000, buy_now_price=30_000)
    buyer = make_user(balance=50_000)
    result = auction_buy_now(auction_id=auction.pk, actor=buyer, request_id=rid())
    auction.refresh_from_db()
    assert (auction.status, auction.winner_id, auction.current_price, auction.end_reason) == (
        "sold",
        buyer.pk,
        30_000,
        "buy_now",
    )
    assert wallet_of(buyer) == (20_000, 0)
    # the seller is not credited at the sale: the money waits in the trade's escrow
    assert wallet_of(seller) == (0, 0)
    trade = Trade.objects.get(auction=auction)
    assert (trade.buyer_id, trade.seller_id, trade.amount, trade.status) == (
        buyer.pk,
        seller.pk,
        30_000,
        "awaiting_handover",
    )
    assert result.state["status"] == "sold"
    assert set(Notification.objects.values_list("user_id", "kind")) == {(buyer.pk, "won"), (seller.pk, "sold")}
    assert_books_balance()


def test_buy_now_releases_the_leaders_hold():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000, buy_now_price=30_000)
    leader, buyer = make_user(balance=50_000), make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=12_000, request_id=rid())
    auction_buy_now(auction_id=auction.pk, actor=buyer, request_id=rid())
    assert wallet_of(leader) == (50_000, 0)
    assert wallet_of(buyer) == (20_000, 0)
    assert wallet_of(seller) == (0, 0)
    assert Trade.objects.get(auction=auction).amount == 30_000
    assert Notification.objects.filter(user=leader, kind="outbid").exists()
    assert_books_balance()


def test_leader_buying_now_uses_their_hold_and_pays_the_difference():
    seller = make_user()
    auction = make_auction(seller=seller, start_price=10_000, buy_now_price=30_000)
    leader = make_user(balance=50_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=12_000, request_id=rid())
    auction_buy_now(auction_id=auction.pk, actor=leader, request_id=rid())
    assert wallet_of(leader) == (20_000, 0)
    assert wallet_of(seller) == (0, 0)
    # one escrow entry: the 12,000 hold from locked, the 18,000 difference from the balance
    trade = Trade.objects.get(auction=auction)
    entry = LedgerEntry.objects.get(trade=trade)
    assert (entry.kind, entry.locked_delta, entry.balance_delta, trade.amount) == (
        "trade_escrow",
        -12_000,
        -18_000,
        30_000,
    )
    assert_books_balance()


def test_leader_without_enough_for_the_difference_is_refused():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    leader = make_user(balance=20_000)
    bid_place(auction_id=auction.pk, actor=leader, amount=12_000, request_id=rid())
    # holds 12,000, has 8,000 left, needs 18,000 more
    rejected(InsufficientFunds, auction_id=auction.pk, actor=leader, request_id=rid())


def test_same_request_again_returns_the_first_outcome():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    buyer = make_user(balance=50_000)
    request_id = rid()
    auction_buy_now(auction_id=auction.pk, actor=buyer, request_id=request_id)
    before = world()
    assert auction_buy_now(auction_id=auction.pk, actor=buyer, request_id=request_id).duplicate
    assert world() == before


def test_second_buyer_is_refused_after_a_sale():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    auction_buy_now(auction_id=auction.pk, actor=make_user(balance=50_000), request_id=rid())
    rejected(AuctionNotOpen, auction_id=auction.pk, actor=make_user(balance=50_000), request_id=rid())


def test_auction_without_buy_now_price():
    auction = make_auction(start_price=10_000)
    rejected(BuyNowUnavailable, auction_id=auction.pk, actor=make_user(balance=50_000), request_id=rid())


def test_seller_cannot_buy_own_item():
    seller = make_user(balance=50_000)
    auction = make_auction(seller=seller, buy_now_price=30_000)
    rejected(OwnAuction, auction_id=auction.pk, actor=seller, request_id=rid())


def test_insufficient_funds():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    rejected(InsufficientFunds, auction_id=auction.pk, actor=make_user(balance=29_000), request_id=rid())


def test_after_the_end():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    set_end(auction, timezone.now() - timedelta(seconds=1))
    rejected(AuctionNotOpen, auction_id=auction.pk, actor=make_user(balance=50_000), request_id=rid())


def test_unverified_user_cannot_buy_a_local_item():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    rejected(NotEligible, auction_id=auction.pk, actor=make_user(balance=50_000, verified=False), request_id=rid())


def test_buy_now_status_is_exposed_by_the_ended_auction():
    auction = make_auction(start_price=10_000, buy_now_price=30_000)
    auction_buy_now(auction_id=auction.pk, actor=make_user(balance=50_000), request_id=rid())
    assert Auction.objects.get(pk=auction.pk).is_ended
