"""Public profiles (매너온도, trust summary, received reviews, live listings) and my reviews of
completed trades: the ones waiting for me, mine of one trade, and writing or editing it (PUT:
the same call twice leaves one review). Another person's trade is 404 trade_not_found."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from accounts.selectors import user_location_verified
from api.auth import actor
from api.routes.auctions import _card
from api.schemas import (
    PartyOut,
    PendingReview,
    ProfileOut,
    ReviewIn,
    ReviewOut,
    ReviewPage,
    ReviewRow,
    TagCount,
    TrustOut,
    problems,
)
from neighborbid.errors import TradeNotFound, UserNotFound
from reviews import selectors
from reviews.models import Review
from reviews.services import review_create, review_update

router = Router(tags=["reviews"])
PAGE = 10


def _review(review: Review) -> ReviewOut:
    return ReviewOut(
        id=review.pk,
        trade_id=review.trade_id,
        reviewee_id=review.reviewee_id,
        rating=review.rating,
        tags=list(review.tags or []),
        text=review.text,
        created_at=review.created_at,
        editable_until=selectors.review_edit_deadline(review),
    )


@router.get("/users/{user_id}", auth=None, response={200: ProfileOut, **problems(404)}, summary="공개 프로필")
def profile(request: HttpRequest, user_id: int):
    person = selectors.public_user(user_id=user_id)
    if person is None:
        raise UserNotFound()
    summary = selectors.user_trust_summary(user_id=person.pk)
    return ProfileOut(
        id=person.pk,
        nickname=person.nickname,
        neighbourhood=person.neighbourhood.name if person.neighbourhood else None,
        location_verified=user_location_verified(person),
        manner_temperature=float(person.manner_temperature),
        trust=TrustOut(
            sales=summary.sales,
            purchases=summary.purchases,
            review_count=summary.review_count,
            ratings=summary.ratings,
            positive_tags=[TagCount(tag=t, count=n) for t, n in summary.positive_tags],
            negative_tags=[TagCount(tag=t, count=n) for t, n in summary.negative_tags],
        ),
        live_listings=[_card(a, {}) for a in selectors.user_public_listings(user_id=person.pk, ended=False)],
    )


class BeforeIn(Schema):
    before: int | None = Field(None, ge=1, le=2**63 - 1)


@router.get("/users/{user_id}/reviews", auth=None, response={200: ReviewPage, **problems(404)}, summary="받은 후기")
def reviews_received(request: HttpRequest, user_id: int, page: Query[BeforeIn]):
    """Received reviews with a text, newest first (as on the profile page)."""
    if selectors.public_user(user_id=user_id) is None:
        raise UserNotFound()
    rows = selectors.user_review_texts(user_id=user_id).order_by("-id")
    if page.before is not None:
        rows = rows.filter(pk__lt=page.before)
    found = list(rows[: PAGE + 1])
    more = len(found) > PAGE
    found = found[:PAGE]
    return ReviewPage(
        items=[
            ReviewRow(
                id=r.pk,
                reviewer=r.reviewer.display_name,
                reviewer_role="buyer" if r.reviewer_id == r.trade.buyer_id else "seller",
                reviewer_neighbourhood=r.reviewer.neighbourhood.name if r.reviewer.neighbourhood else None,
                rating=r.rating,
                tags=list(r.tags or []),
                text=r.text,
                created_at=r.created_at,
            )
            for r in found
        ],
        next_cursor=found[-1].pk if more else None,
    )


@router.get("/reviews/pending", response={200: list[PendingReview], **problems(401)}, summary="남길 후기")
def pending(request: HttpRequest):
    user = actor(request)
    out = []
    for trade in selectors.reviews_pending(user_id=user.pk)[:50]:
        buyer = trade.buyer_id == user.pk
        other = trade.seller if buyer else trade.buyer
        out.append(
            PendingReview(
                trade_id=trade.pk,
                title=trade.auction.title,
                role="buyer" if buyer else "seller",
                other=PartyOut(id=other.pk, nickname=other.nickname),
            )
        )
    return out


@router.get("/trades/{trade_id}/review", response={200: ReviewOut, **problems(401, 404)}, summary="내가 남긴 후기")
def my_review(request: HttpRequest, trade_id: int):
    user = actor(request)
    if selectors.trade_for_party(trade_id=trade_id, user_id=user.pk) is None:
        raise TradeNotFound()
    review = selectors.review_of(trade_id=trade_id, reviewer_id=user.pk)
    if review is None:
        raise TradeNotFound("아직 남긴 후기가 없어요.")
    return _review(review)


@router.put(
    "/trades/{trade_id}/review",
    response={200: ReviewOut, **problems(400, 401, 403, 404, 409)},
    summary="후기 남기기·고치기",
)
def review_put(request: HttpRequest, trade_id: int, data: ReviewIn):
    """Write my review of a completed trade, or change it within REVIEW_EDIT_DAYS (7) days.
    Rating good/ok/bad; tags from the fixed list, agreeing with the rating; text ≤ 500."""
    user = actor(request)
    if selectors.trade_for_party(trade_id=trade_id, user_id=user.pk) is None:
        raise TradeNotFound()
    existing = selectors.review_of(trade_id=trade_id, reviewer_id=user.pk)
    if existing is not None:
        review = review_update(review_id=existing.pk, actor=user, rating=data.rating, tags=data.tags, text=data.text)
    else:
        review = review_create(trade_id=trade_id, actor=user, rating=data.rating, tags=data.tags, text=data.text)
    return _review(review)
