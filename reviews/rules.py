"""매너온도 and review tags: pure rules (no database, no clock of their own).

The temperature formula (docs/architecture.md, "매너온도", has a worked example):

- Only the latest review each reviewer wrote of the user counts (one reviewer moves a user
  once, however many trades they made together).
- Each counted review contributes ``delta = RATING_DELTA[rating] + clamp(TAG_STEP × (positive
  tags − negative tags), −TAG_CAP, +TAG_CAP)``: good +0.5, ok +0.1, bad −0.8, ±0.1 per tag up
  to ±0.3. Ratings and tags agree (good: positive tags only, bad: negative only), so the
  ranges never overlap: good ∈ [0.5, 0.8], ok ∈ [−0.2, 0.4], bad ∈ [−1.1, −0.8].
- ... times a recency weight ``0.5 ** (age_days / HALF_LIFE_DAYS)`` (a review 180 days old
  counts half, 360 days a quarter).
- The weighted sum ``S`` goes through a bounded curve: ``36.5 + 62.5·tanh(S / 62.5)`` above
  zero and ``36.5 + 36.5·tanh(S / 36.5)`` below, so the temperature stays strictly inside
  (0, 99) °C. The curve's slope is at most 1, so one review moves a temperature by at most
  1.1 °C (its largest |delta|), and near 36.5 by almost exactly its weighted delta.
- Rounded to one decimal (half up) for storage and display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

BASE_TEMPERATURE = Decimal("36.5")
MIN_TEMPERATURE = Decimal("0.0")
MAX_TEMPERATURE = Decimal("99.0")
HALF_LIFE_DAYS = 180.0
TAG_STEP = 0.1
TAG_CAP = 0.3
MAX_TAGS = 5  # at most this many tags on one review
TEXT_MAX = 500

GOOD, OK, BAD = "good", "ok", "bad"
RATING_DELTA = {GOOD: 0.5, OK: 0.1, BAD: -0.8}

POSITIVE_TAGS: tuple[str, ...] = (
    "시간 약속을 잘 지켜요",
    "응답이 빨라요",
    "친절하고 매너가 좋아요",
    "상품 상태가 설명과 같아요",
    "좋은 상품을 저렴하게 판매해요",
)
NEGATIVE_TAGS: tuple[str, ...] = (
    "약속 시간을 안 지켜요",
    "응답이 느려요",
    "불친절해요",
    "상품 상태가 설명과 달라요",
)
ALL_TAGS: tuple[str, ...] = POSITIVE_TAGS + NEGATIVE_TAGS

_UP = float(MAX_TEMPERATURE - BASE_TEMPERATURE)  # 62.5: room above the start
_DOWN = float(BASE_TEMPERATURE - MIN_TEMPERATURE)  # 36.5: room below it


class TagError(ValueError):
    """Tags that are not on the list, repeated, too many, or at odds with the rating."""


def tags_clean(*, rating: str, tags: Iterable[str]) -> list[str]:
    """The tags as stored: known, unique, at most MAX_TAGS, in the list's order, and agreeing
    with the rating (good: positive only, bad: negative only, ok: either). Raises TagError
    with a 해요체 message."""
    if rating not in RATING_DELTA:
        raise TagError("평가를 골라 주세요.")
    if isinstance(tags, str):
        raise TagError("칭찬/비매너 항목이 올바르지 않아요.")
    given = list(tags)
    if any(not isinstance(tag, str) or tag not in ALL_TAGS for tag in given):
        raise TagError("목록에 있는 항목만 고를 수 있어요.")
    if len(set(given)) != len(given):
        raise TagError("같은 항목을 두 번 고를 수 없어요.")
    if len(given) > MAX_TAGS:
        raise TagError(f"항목은 {MAX_TAGS}개까지 고를 수 있어요.")
    if rating == GOOD and any(tag in NEGATIVE_TAGS for tag in given):
        raise TagError("'좋아요'에는 칭찬 항목만 고를 수 있어요.")
    if rating == BAD and any(tag in POSITIVE_TAGS for tag in given):
        raise TagError("'별로예요'에는 비매너 항목만 고를 수 있어요.")
    return [tag for tag in ALL_TAGS if tag in given]


def review_delta(*, rating: str, tags: Iterable[str]) -> float:
    """What one review is worth before its recency weight: within [−1.1, +0.8]."""
    tags = list(tags)
    positive = sum(1 for tag in tags if tag in POSITIVE_TAGS)
    negative = sum(1 for tag in tags if tag in NEGATIVE_TAGS)
    tag_part = max(-TAG_CAP, min(TAG_CAP, TAG_STEP * (positive - negative)))
    return RATING_DELTA[rating] + tag_part


def recency_weight(*, created_at: datetime, now: datetime) -> float:
    """1 for a review written now, halving every HALF_LIFE_DAYS (a future time counts as now)."""
    age_days = max(0.0, (now - created_at).total_seconds() / 86400.0)
    return float(0.5 ** (age_days / HALF_LIFE_DAYS))


@dataclass(frozen=True)
class ReviewInput:
    """One received review, as the formula sees it."""

    reviewer_id: int
    rating: str
    tags: tuple[str, ...]
    created_at: datetime


def latest_per_reviewer(reviews: Iterable[ReviewInput]) -> list[ReviewInput]:
    """Only each reviewer's latest review counts (ties: the later one in the input)."""
    latest: dict[int, ReviewInput] = {}
    for review in reviews:
        seen = latest.get(review.reviewer_id)
        if seen is None or review.created_at >= seen.created_at:
            latest[review.reviewer_id] = review
    return list(latest.values())


def temperature_from_score(score: float) -> Decimal:
    """The bounded curve: 36.5 at 0, rising towards 99 and falling towards 0, slope ≤ 1."""
    if score >= 0:
        value = float(BASE_TEMPERATURE) + _UP * math.tanh(score / _UP)
    else:
        value = float(BASE_TEMPERATURE) + _DOWN * math.tanh(score / _DOWN)
    rounded = Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return min(MAX_TEMPERATURE, max(MIN_TEMPERATURE, rounded))


def manner_score(reviews: Iterable[ReviewInput], *, now: datetime) -> float:
    """Σ delta × recency weight over each reviewer's latest review."""
    return sum(
        review_delta(rating=r.rating, tags=r.tags) * recency_weight(created_at=r.created_at, now=now)
        for r in latest_per_reviewer(reviews)
    )


def manner_temperature(reviews: Iterable[ReviewInput], *, now: datetime) -> Decimal:
    """The 매너온도 of a user who received `reviews`, as of `now`."""
    return temperature_from_score(manner_score(reviews, now=now))


# --- display ------------------------------------------------------------------------------

# (upper bound exclusive, css modifier, label) — Daangn-like: blue when cold, green at the
# start, then yellow, orange and red as it rises.
TEMPERATURE_BANDS: tuple[tuple[Decimal, str, str], ...] = (
    (Decimal("30.0"), "cold", "차가워요"),
    (Decimal("36.5"), "cool", "조금 차가워요"),
    (Decimal("40.0"), "mild", "따뜻해요"),
    (Decimal("50.0"), "warm", "훈훈해요"),
    (Decimal("65.0"), "hot", "뜨거워요"),
    (Decimal("Infinity"), "hottest", "아주 뜨거워요"),
)


def temperature_band(value: Decimal | float | str | None) -> tuple[str, str]:
    """(css modifier, label) of a temperature; None or junk reads as the start."""
    try:
        t = Decimal(str(value)) if value is not None else BASE_TEMPERATURE
    except ArithmeticError:
        t = BASE_TEMPERATURE
    if not t.is_finite():
        t = BASE_TEMPERATURE
    for upper, css, label in TEMPERATURE_BANDS:
        if t < upper:
            return css, label
    return TEMPERATURE_BANDS[-1][1], TEMPERATURE_BANDS[-1][2]
