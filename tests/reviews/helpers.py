"""Test data for reviews: a trade in a given state between two users.

Trades are made by the trade services once an auction sells; here only the row matters (the
reviews services read its parties and status), so it is written directly, test-only."""

from __future__ import annotations

from django.utils import timezone

from accounts.models import User
from auctions.models import Auction
from reviews.models import Review
from tests.factories import make_auction, make_user
from trades.models import Trade


def make_trade(
    *, seller: User | None = None, buyer: User | None = None, status: str = Trade.Status.COMPLETED, amount: int = 20_000
) -> Trade:
    seller = seller or make_user()
    buyer = buyer or make_user()
    auction = make_auction(seller=seller, start_price=amount)
    now = timezone.now()
    Auction.objects.filter(pk=auction.pk).update(
        status=Auction.Status.SOLD, winner=buyer, current_price=amount, ended_at=now, end_reason="bids"
    )
    return Trade.objects.create(
        auction_id=auction.pk,
        buyer=buyer,
        seller=seller,
        amount=amount,
        status=status,
        completed_at=now if status == Trade.Status.COMPLETED else None,
    )


def sold_trade(*, seller: User | None = None, buyer: User | None = None, amount: int = 20_000) -> Trade:
    """A trade made the real way: a local auction won at settlement (money in escrow)."""
    from datetime import timedelta

    from auctions.services import auction_settle, bid_place
    from tests.factories import fund, rid, set_end
    from trades.selectors import trade_for_auction

    seller = seller or make_user()
    buyer = buyer or make_user()
    fund(buyer, amount)
    auction = make_auction(seller=seller, start_price=amount)
    bid_place(auction_id=auction.pk, actor=buyer, amount=amount, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=auction.pk)
    trade = trade_for_auction(auction_id=auction.pk)
    assert trade is not None and trade.status == Trade.Status.AWAITING_HANDOVER
    return trade


def snapshot() -> dict:
    """Everything a review write may change."""
    return {
        "reviews": list(Review.objects.order_by("pk").values("pk", "rating", "tags", "text", "updated_at")),
        "temperatures": dict(User.objects.values_list("pk", "manner_temperature")),
    }
