"""Reviews racing on real PostgreSQL: a double submit, and many reviews of one person at once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import User
from neighborbid.errors import InvalidRequest
from reviews.models import Review
from reviews.services import review_create
from tests.factories import make_user
from tests.reviews.helpers import make_trade

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]


def test_a_double_submit_makes_one_review_and_a_friendly_refusal(concurrently):
    # given a completed trade
    trade = make_trade()
    # when the buyer's form is submitted twice at the same instant
    outcomes = concurrently(
        [lambda: review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="") for _ in range(2)]
    )
    # then one review is written and the other submit is told so, never a 500
    assert sum(o.ok for o in outcomes) == 1
    assert [type(o.error) for o in outcomes if not o.ok] == [InvalidRequest]
    assert Review.objects.count() == 1
    assert User.objects.get(pk=trade.seller_id).manner_temperature == Decimal("37.0")


def test_many_reviews_of_one_seller_at_once_all_count(concurrently):
    # given a seller who completed trades with six different buyers
    seller = make_user()
    trades = [make_trade(seller=seller) for _ in range(6)]
    # when every buyer leaves a good review at the same instant
    outcomes = concurrently(
        [lambda t=t: review_create(trade_id=t.pk, actor=t.buyer, rating="good", tags=[], text="") for t in trades]
    )
    # then none is lost: the seller's temperature counts all six (36.5 + 6 × 0.5, nearly)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert User.objects.get(pk=seller.pk).manner_temperature == Decimal("39.5")
