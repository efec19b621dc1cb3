"""review_create / review_update: allowed and refused; a refusal changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.services import user_suspend
from neighborbid.errors import (
    AccountSuspended,
    InvalidRequest,
    LoginRequired,
    PermissionDenied,
    TradeNotFound,
    TradeStateError,
)
from reviews import rules
from reviews.models import Review
from reviews.services import review_create, review_update
from tests.factories import make_moderator, make_user
from tests.reviews.helpers import make_trade, snapshot, sold_trade
from trades.models import Trade

pytestmark = pytest.mark.django_db

P1, P2 = rules.POSITIVE_TAGS[:2]
N1 = rules.NEGATIVE_TAGS[0]


def temperature(user) -> Decimal:
    return User.objects.get(pk=user.pk).manner_temperature


def refused(exc_type, fn, **kwargs):
    before = snapshot()
    with pytest.raises(exc_type) as info:
        fn(**kwargs)
    assert snapshot() == before
    return info.value


def test_the_buyer_reviews_the_seller_and_the_sellers_temperature_rises():
    trade = make_trade()
    review = review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[P2, P1], text="  감사해요!  ")
    assert (review.reviewer_id, review.reviewee_id, review.rating) == (trade.buyer_id, trade.seller_id, "good")
    assert review.tags == [P1, P2] and review.text == "감사해요!"
    assert temperature(trade.seller) == Decimal("37.2")  # 36.5 + 0.5 + 2 × 0.1
    assert temperature(trade.buyer) == Decimal("36.5")


def test_both_sides_review_each_other_once():
    trade = make_trade()
    review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="")
    review_create(trade_id=trade.pk, actor=trade.seller, rating="bad", tags=[N1], text="약속에 늦었어요")
    assert (temperature(trade.seller), temperature(trade.buyer)) == (Decimal("37.0"), Decimal("35.6"))
    assert Review.objects.filter(trade=trade).count() == 2


def test_a_released_trade_counts_as_completed():
    trade = make_trade(status=Trade.Status.RELEASED)
    review_create(trade_id=trade.pk, actor=trade.seller, rating="ok", tags=[], text="")
    assert temperature(trade.buyer) == Decimal("36.6")


@pytest.mark.parametrize(
    "status",
    [
        Trade.Status.AWAITING_HANDOVER,
        Trade.Status.SHIPPED,
        Trade.Status.HANDED_OVER,
        Trade.Status.DISPUTED,
        Trade.Status.REFUNDED,
        Trade.Status.SPLIT,
    ],
)
def test_no_review_without_a_completed_trade(status):
    trade = make_trade(status=status)
    exc = refused(TradeStateError, review_create, trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="")
    assert "거래가 완료된 뒤" in exc.message and exc.http_status == 409


def test_a_stranger_cannot_review_and_a_missing_trade_is_not_found():
    trade = make_trade()
    stranger = make_user()
    refused(PermissionDenied, review_create, trade_id=trade.pk, actor=stranger, rating="bad", tags=[], text="")
    refused(TradeNotFound, review_create, trade_id=trade.pk + 999, actor=stranger, rating="bad", tags=[], text="")


def test_twice_is_refused_with_a_friendly_message():
    trade = make_trade()
    review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="첫 후기")
    exc = refused(InvalidRequest, review_create, trade_id=trade.pk, actor=trade.buyer, rating="bad", tags=[], text="")
    assert "이미" in exc.message
    assert temperature(trade.seller) == Decimal("37.0")


def test_anonymous_suspended_and_bad_input_are_refused():
    trade = make_trade()
    refused(LoginRequired, review_create, trade_id=trade.pk, actor=None, rating="good", tags=[], text="")
    for rating, tags, text in [
        ("great", [], ""),
        ("good", [N1], ""),
        ("bad", [P1], ""),
        ("good", ["없는 항목"], ""),
        ("good", "시간 약속을 잘 지켜요", ""),
        ("good", [], "가" * 501),
        ("good", [], "널\x00문자"),
        ("good", [], 123),
        (None, [], ""),
    ]:
        refused(
            InvalidRequest, review_create, trade_id=trade.pk, actor=trade.buyer, rating=rating, tags=tags, text=text
        )
    user_suspend(user_id=trade.buyer_id, staff_user=make_moderator(), reason="사기 의심")
    refused(AccountSuspended, review_create, trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="")


def test_the_reviewer_edits_within_7_days_and_the_temperature_follows():
    trade = make_trade()
    review = review_create(trade_id=trade.pk, actor=trade.buyer, rating="bad", tags=[], text="별로")
    assert temperature(trade.seller) == Decimal("35.7")
    updated = review_update(review_id=review.pk, actor=trade.buyer, rating="good", tags=[P1], text="오해였어요")
    assert (updated.rating, updated.tags, updated.text) == ("good", [P1], "오해였어요")
    assert temperature(trade.seller) == Decimal("37.1")
    assert Review.objects.count() == 1


def test_no_edit_after_7_days_nor_by_anyone_else():
    trade = make_trade()
    review = review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="")
    refused(PermissionDenied, review_update, review_id=review.pk, actor=trade.seller, rating="bad", tags=[], text="")
    refused(PermissionDenied, review_update, review_id=review.pk, actor=make_user(), rating="bad", tags=[], text="")
    Review.objects.filter(pk=review.pk).update(created_at=timezone.now() - timedelta(days=7, minutes=1))
    exc = refused(InvalidRequest, review_update, review_id=review.pk, actor=trade.buyer, rating="bad", tags=[], text="")
    assert "7일" in exc.message


def test_the_edit_window_is_a_setting(settings):
    settings.NEIGHBORBID = {**settings.NEIGHBORBID, "REVIEW_EDIT_DAYS": 1}
    trade = make_trade()
    review = review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="")
    Review.objects.filter(pk=review.pk).update(created_at=timezone.now() - timedelta(days=2))
    refused(InvalidRequest, review_update, review_id=review.pk, actor=trade.buyer, rating="ok", tags=[], text="")


def test_one_reviewer_moves_a_user_once_across_many_trades():
    seller, buyer = make_user(), make_user()
    for _ in range(3):
        trade = make_trade(seller=seller, buyer=buyer)
        review_create(trade_id=trade.pk, actor=buyer, rating="good", tags=[], text="")
    assert temperature(seller) == Decimal("37.0")  # the latest review only, not 3 × 0.5
    other = make_user()
    review_create(trade_id=make_trade(seller=seller, buyer=other).pk, actor=other, rating="good", tags=[], text="")
    assert temperature(seller) == Decimal("37.5")


def test_a_completed_trade_asks_both_sides_for_a_review():
    # given a trade waiting for the buyer's 구매확정 (through the real trade services)
    from notifications.models import Notification
    from trades.services import trade_confirm, trade_mark_handed_over

    trade = sold_trade()
    trade_mark_handed_over(trade_id=trade.pk, actor=trade.seller)
    before = set(Notification.objects.values_list("pk", flat=True))
    # when the buyer confirms
    trade_confirm(trade_id=trade.pk, actor=trade.buyer)
    # then both sides are asked for a review, each in one notification for the one event
    # (issue 18 #20: the seller used to get the money notice and the review request apart)
    new = Notification.objects.exclude(pk__in=before)
    assert sorted(new.values_list("user_id", flat=True)) == sorted([trade.buyer_id, trade.seller_id])
    assert all("후기" in n.message and n.kind == "trade_completed" for n in new), list(new.values("message"))
    (seller_note,) = new.filter(user_id=trade.seller_id)
    assert "지갑에 들어왔어요" in seller_note.message and "거래 후기도 남겨 주세요" in seller_note.message
    # and may now review each other
    review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="")
    review_create(trade_id=trade.pk, actor=trade.seller, rating="good", tags=[], text="")
    assert Review.objects.filter(trade_id=trade.pk).count() == 2
