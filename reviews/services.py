"""Reviews: one per side of a completed trade, editable for REVIEW_EDIT_DAYS days; each write
recomputes the reviewee's 매너온도 in the same transaction.

Locks: the trade row first (serialising with the trade's own transitions), then the reviewee's
user row (so two reviews of the same person, from different trades, cannot lose each other's
effect on the temperature). A raised DomainError means nothing was written."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_user
from accounts.services import user_temperature_set
from neighborbid.errors import InvalidRequest, PermissionDenied, TradeStateError
from reviews import rules
from reviews.models import Review
from reviews.selectors import REVIEWABLE_STATUSES, received_review_inputs
from trades.locks import trade_lock
from trades.models import Trade

logger = logging.getLogger("neighborbid.reviews")

_NOT_YOURS = "이 거래의 구매자와 판매자만 후기를 남길 수 있어요."


def _clean(*, rating: object, tags: object, text: object) -> tuple[str, list[str], str]:
    if not isinstance(rating, str) or rating not in Review.Rating.values:
        raise InvalidRequest("평가를 골라 주세요. (좋아요 / 보통이에요 / 별로예요)")
    if tags is None:
        tags = []
    if not isinstance(tags, Iterable) or isinstance(tags, str | bytes | dict):
        raise InvalidRequest("칭찬/비매너 항목이 올바르지 않아요.")
    try:
        clean_tags = rules.tags_clean(rating=rating, tags=tags)
    except rules.TagError as exc:
        raise InvalidRequest(str(exc)) from exc
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise InvalidRequest("후기 내용이 올바르지 않아요.")
    text = text.strip()
    if len(text) > rules.TEXT_MAX:
        raise InvalidRequest(f"후기는 {rules.TEXT_MAX}자까지 쓸 수 있어요.")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\r\t" for ch in text):  # NUL & co.
        raise InvalidRequest("후기에 쓸 수 없는 문자가 있어요.")
    return rating, clean_tags, text


def _lock_trade(trade_id: int) -> Trade:
    return trade_lock(trade_id=trade_id)  # raises TradeNotFound


def _lock_user(user_id: int) -> None:
    User.objects.select_for_update().filter(pk=user_id).values_list("pk", flat=True).first()


def user_temperature_recompute(*, user_id: int) -> None:
    """Recompute a user's 매너온도 from every review they received (reviews.rules) and store it
    through the accounts service. The caller holds the user's row lock (or runs alone)."""
    temperature = rules.manner_temperature(received_review_inputs(user_id=user_id), now=timezone.now())
    user_temperature_set(user_id=user_id, temperature=temperature)


def review_create(*, trade_id: int, actor: User, rating: str, tags: Iterable[str], text: str = "") -> Review:
    """The buyer or the seller of a completed trade reviews the other side, once.

    A completed trade is one whose status is `completed` (구매확정, by the buyer or
    automatically) or `released` (a moderator paid the seller after a dispute): the goods
    changed hands. Refunded and split trades take no reviews."""
    rating, clean_tags, text = _clean(rating=rating, tags=tags, text=text)
    user = access_user(actor)
    try:
        with transaction.atomic():
            trade = _lock_trade(trade_id)
            if user.pk not in (trade.buyer_id, trade.seller_id):
                raise PermissionDenied(_NOT_YOURS)
            if trade.status not in REVIEWABLE_STATUSES:
                raise TradeStateError("거래가 완료된 뒤에 후기를 남길 수 있어요.", status=trade.status)
            if Review.objects.filter(trade_id=trade.pk, reviewer_id=user.pk).exists():
                raise InvalidRequest("이미 이 거래의 후기를 남겼어요. 남긴 후기는 7일 동안 고칠 수 있어요.")
            reviewee_id = trade.seller_id if user.pk == trade.buyer_id else trade.buyer_id
            _lock_user(reviewee_id)
            review = Review.objects.create(
                trade_id=trade.pk,
                reviewer_id=user.pk,
                reviewee_id=reviewee_id,
                rating=rating,
                tags=clean_tags,
                text=text,
            )
            user_temperature_recompute(user_id=reviewee_id)
    except IntegrityError as exc:  # belt and braces: the unique constraint decides a twin
        if "review_one_per_side" not in str(exc):
            raise
        raise InvalidRequest("이미 이 거래의 후기를 남겼어요. 남긴 후기는 7일 동안 고칠 수 있어요.") from exc
    logger.info("review created id=%s trade=%s reviewer=%s rating=%s", review.pk, trade_id, user.pk, rating)
    return review


def review_update(*, review_id: int, actor: User, rating: str, tags: Iterable[str], text: str = "") -> Review:
    """The reviewer changes their review within REVIEW_EDIT_DAYS days of writing it."""
    rating, clean_tags, text = _clean(rating=rating, tags=tags, text=text)
    user = access_user(actor)
    trade_id = Review.objects.filter(pk=review_id, reviewer_id=user.pk).values_list("trade_id", flat=True).first()
    if trade_id is None:
        raise PermissionDenied("내가 쓴 후기만 고칠 수 있어요.")
    with transaction.atomic():
        _lock_trade(trade_id)
        review = Review.objects.select_for_update().get(pk=review_id)
        days = settings.NEIGHBORBID["REVIEW_EDIT_DAYS"]
        if timezone.now() - review.created_at > timedelta(days=days):
            raise InvalidRequest(f"후기는 남긴 뒤 {days}일 동안만 고칠 수 있어요.")
        _lock_user(review.reviewee_id)
        review.rating, review.tags, review.text = rating, clean_tags, text
        review.save(update_fields=["rating", "tags", "text", "updated_at"])
        user_temperature_recompute(user_id=review.reviewee_id)
    logger.info("review updated id=%s reviewer=%s rating=%s", review.pk, user.pk, rating)
    return review
