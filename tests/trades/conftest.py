"""Trades ready to act on: a local one (won at settlement) and a national one (buy-now)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from auctions.services import auction_buy_now, auction_settle, bid_place
from tests.factories import make_auction, make_user, rid, set_end
from trades.models import Trade


@dataclass
class Deal:
    trade: Trade
    buyer: User
    seller: User
    stranger: User

    def fresh(self) -> Trade:
        return Trade.objects.get(pk=self.trade.pk)


def local_deal(price: int = 20_000) -> Deal:
    seller, buyer = make_user(), make_user(balance=100_000)
    auction = make_auction(seller=seller, start_price=price)
    bid_place(auction_id=auction.pk, actor=buyer, amount=price, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=auction.pk)
    return Deal(Trade.objects.get(auction=auction), buyer, seller, make_user(balance=10_000))


def national_deal(price: int = 30_000) -> Deal:
    seller, buyer = make_user(), make_user(balance=100_000)
    auction = make_auction(seller=seller, start_price=10_000, buy_now_price=price, is_national=True)
    auction_buy_now(auction_id=auction.pk, actor=buyer, request_id=rid())
    return Deal(Trade.objects.get(auction=auction), buyer, seller, make_user(balance=10_000))


@pytest.fixture
def deal() -> Deal:
    return local_deal()


@pytest.fixture
def national() -> Deal:
    return national_deal()
