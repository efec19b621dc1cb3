"""Reads for reviews, 매너온도 and the public profile page."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet

from accounts.models import User
from reviews import rules
from reviews.models import Review

if TYPE_CHECKING:
    from auctions.models import Auction
from trades.models import Trade

# Trades whose two sides may review each other: the goods changed hands (구매확정, or a
# moderator released the money to the seller). Refunded and split trades take no reviews.
REVIEWABLE_STATUSES = (Trade.Status.COMPLETED, Trade.Status.RELEASED)


def received_review_inputs(*, user_id: int) -> list[rules.ReviewInput]:
    """What the temperature formula needs of every review the user received."""
    return [
        rules.ReviewInput(reviewer_id=reviewer_id, rating=rating, tags=tuple(tags or ()), created_at=created_at)
        for reviewer_id, rating, tags, created_at in Review.objects.filter(reviewee_id=user_id).values_list(
            "reviewer_id", "rating", "tags", "created_at"
        )
    ]


def review_of(*, trade_id: int, reviewer_id: int) -> Review | None:
    return Review.objects.filter(trade_id=trade_id, reviewer_id=reviewer_id).first()


def trade_reviews(*, trade_id: int) -> list[Review]:
    return list(Review.objects.filter(trade_id=trade_id).select_related("reviewer"))


def reviews_pending(*, user_id: int) -> QuerySet[Trade]:
    """Completed trades of the user (either side) they have not reviewed yet, newest first."""
    return (
        Trade.objects.filter(Q(buyer_id=user_id) | Q(seller_id=user_id), status__in=REVIEWABLE_STATUSES)
        .exclude(reviews__reviewer_id=user_id)
        .select_related("auction", "buyer", "seller")
        .order_by("-completed_at", "-id")
    )


def reviews_pending_count(*, user_id: int) -> int:
    return reviews_pending(user_id=user_id).count()


def public_user(*, user_id: int) -> User | None:
    """A user whose profile is public: any active account."""
    return User.objects.select_related("neighbourhood").filter(pk=user_id, is_active=True).first()


@dataclass(frozen=True)
class TrustSummary:
    sales: int
    purchases: int
    review_count: int
    ratings: dict[str, int]
    positive_tags: list[tuple[str, int]]
    negative_tags: list[tuple[str, int]]


def user_trust_summary(*, user_id: int) -> TrustSummary:
    """Completed trades as seller and buyer, rating counts and tag counts (tags in the list's
    order, most given first, only those given at least once). Three queries."""
    counts = Trade.objects.filter(status__in=REVIEWABLE_STATUSES).aggregate(
        sales=Count("pk", filter=Q(seller_id=user_id)), purchases=Count("pk", filter=Q(buyer_id=user_id))
    )
    received = Review.objects.filter(reviewee_id=user_id)
    ratings = {value: 0 for value in Review.Rating.values}
    for row in received.values("rating").annotate(n=Count("pk")):
        ratings[row["rating"]] = row["n"]
    tag_counts: Counter[str] = Counter()
    for tags in received.values_list("tags", flat=True):
        tag_counts.update(tag for tag in tags or () if tag in rules.ALL_TAGS)

    def ranked(tags: tuple[str, ...]) -> list[tuple[str, int]]:
        return sorted(((t, tag_counts[t]) for t in tags if tag_counts[t]), key=lambda item: -item[1])

    return TrustSummary(
        sales=counts["sales"],
        purchases=counts["purchases"],
        review_count=sum(ratings.values()),
        ratings=ratings,
        positive_tags=ranked(rules.POSITIVE_TAGS),
        negative_tags=ranked(rules.NEGATIVE_TAGS),
    )


def user_review_texts(*, user_id: int) -> QuerySet[Review]:
    """Received reviews that carry a text, newest first (for a paginated list)."""
    return (
        Review.objects.filter(reviewee_id=user_id)
        .exclude(text="")
        .select_related("reviewer", "reviewer__neighbourhood", "trade")
        .order_by("-created_at", "-id")
    )


def user_public_listings(*, user_id: int, ended: bool, limit: int = 12) -> list[Auction]:
    """A user's visible listings: live ones (open or scheduled) or ended ones, newest first."""
    from auctions.models import Auction
    from auctions.selectors import user_listings

    qs = user_listings(user_id=user_id).filter(is_hidden=False)
    qs = qs.filter(status__in=Auction.ENDED_STATUSES) if ended else qs.exclude(status__in=Auction.ENDED_STATUSES)
    return list(qs[:limit])


def review_edit_deadline(review: Review) -> datetime:
    """Until when the reviewer may change `review` (REVIEW_EDIT_DAYS after writing it)."""
    from datetime import timedelta

    from django.conf import settings

    return review.created_at + timedelta(days=settings.NEIGHBORBID["REVIEW_EDIT_DAYS"])


def trade_for_party(*, trade_id: int, user_id: int) -> Trade | None:
    """The trade, if the user is its buyer or seller."""
    return (
        Trade.objects.select_related("auction", "buyer", "seller", "buyer__neighbourhood", "seller__neighbourhood")
        .filter(Q(buyer_id=user_id) | Q(seller_id=user_id), pk=trade_id)
        .first()
    )
