"""reviews.rules: the 매너온도 formula (bounds, monotonicity, one reviewer once, recency) and tags."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from reviews import rules
from reviews.rules import BAD, GOOD, OK, ReviewInput, manner_temperature

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def review(reviewer_id: int, rating: str = GOOD, tags: tuple[str, ...] = (), days_ago: float = 0) -> ReviewInput:
    return ReviewInput(reviewer_id=reviewer_id, rating=rating, tags=tags, created_at=NOW - timedelta(days=days_ago))


P1, P2, P3, P4 = rules.POSITIVE_TAGS[:4]
N1, N2, N3, N4 = rules.NEGATIVE_TAGS


def test_everyone_starts_at_36_5():
    assert manner_temperature([], now=NOW) == Decimal("36.5")


def test_one_review_moves_it_by_its_delta_near_the_start():
    assert manner_temperature([review(1, GOOD)], now=NOW) == Decimal("37.0")
    assert manner_temperature([review(1, OK)], now=NOW) == Decimal("36.6")
    assert manner_temperature([review(1, BAD)], now=NOW) == Decimal("35.7")


def test_the_documented_worked_example():
    # docs/architecture.md, "매너온도": S = 0.7 + 0.05 − 0.225 = 0.525 → 37.0 °C
    reviews = [review(1, GOOD, (P1, P2)), review(2, OK, (), days_ago=180), review(3, BAD, (N1,), days_ago=360)]
    assert rules.manner_score(reviews, now=NOW) == pytest.approx(0.525)
    assert manner_temperature(reviews, now=NOW) == Decimal("37.0")


def test_tags_add_a_tenth_each_up_to_three_tenths():
    assert rules.review_delta(rating=GOOD, tags=[P1]) == pytest.approx(0.6)
    assert rules.review_delta(rating=GOOD, tags=[P1, P2, P3, P4]) == pytest.approx(0.8)
    assert rules.review_delta(rating=BAD, tags=[N1, N2, N3, N4]) == pytest.approx(-1.1)
    assert rules.review_delta(rating=OK, tags=[P1, N1]) == pytest.approx(0.1)


@pytest.mark.parametrize("n", [1, 10, 100, 1_000, 100_000])
def test_bounded_between_0_and_99_however_many_reviews(n):
    best = [review(i, GOOD, (P1, P2, P3)) for i in range(n)]
    worst = [review(i, BAD, (N1, N2, N3)) for i in range(n)]
    hot, cold = manner_temperature(best, now=NOW), manner_temperature(worst, now=NOW)
    assert Decimal("36.5") < hot <= Decimal("99.0")
    assert Decimal("0.0") <= cold < Decimal("36.5")


def test_one_review_never_moves_it_more_than_1_1_degrees():
    # the curve's slope is at most 1 and no review is worth more than |−1.1|
    base = [review(i, GOOD if i % 3 else BAD, days_ago=i) for i in range(1, 60)]
    before = rules.manner_score(base, now=NOW)
    for extra in (review(999, GOOD, (P1, P2, P3)), review(999, BAD, (N1, N2, N3))):
        after = rules.manner_score([*base, extra], now=NOW)
        assert (
            abs(float(rules.temperature_from_score(after)) - float(rules.temperature_from_score(before))) <= 1.1 + 0.1
        )


def test_monotone_a_better_review_never_gives_a_lower_temperature():
    ladder = [
        (BAD, (N1, N2, N3)),
        (BAD, ()),
        (OK, (N1, N2)),
        (OK, ()),
        (OK, (P1, P2, P3)),
        (GOOD, ()),
        (GOOD, (P1, P2, P3)),
    ]
    deltas = [rules.review_delta(rating=r, tags=t) for r, t in ladder]
    assert deltas == sorted(deltas)
    others = [review(i, OK, days_ago=10 * i) for i in range(1, 8)]
    temps = [manner_temperature([*others, review(99, r, t)], now=NOW) for r, t in ladder]
    assert temps == sorted(temps)
    # and a good review added never lowers it, a bad one never raises it
    assert manner_temperature([*others, review(99, GOOD)], now=NOW) >= manner_temperature(others, now=NOW)
    assert manner_temperature([*others, review(99, BAD)], now=NOW) <= manner_temperature(others, now=NOW)


def test_more_reviews_weigh_more_than_few():
    few = [review(i, GOOD) for i in range(2)]
    many = [review(i, GOOD) for i in range(20)]
    assert manner_temperature(many, now=NOW) > manner_temperature(few, now=NOW)


def test_one_reviewer_counts_once_their_latest_review():
    once = manner_temperature([review(1, GOOD)], now=NOW)
    ten_times = manner_temperature([review(1, GOOD, days_ago=d) for d in range(10)], now=NOW)
    assert ten_times == once
    # the latest one wins, even when an older one was better
    assert manner_temperature([review(1, GOOD, days_ago=30), review(1, BAD, days_ago=1)], now=NOW) < Decimal("36.5")
    assert manner_temperature([review(1, BAD, days_ago=30), review(1, GOOD, days_ago=1)], now=NOW) > Decimal("36.5")


def test_recent_reviews_weigh_more_halving_every_180_days():
    assert rules.recency_weight(created_at=NOW, now=NOW) == 1.0
    assert rules.recency_weight(created_at=NOW - timedelta(days=180), now=NOW) == pytest.approx(0.5)
    assert rules.recency_weight(created_at=NOW - timedelta(days=360), now=NOW) == pytest.approx(0.25)
    assert rules.recency_weight(created_at=NOW + timedelta(days=1), now=NOW) == 1.0  # clock skew: as now
    many = [review(i, GOOD) for i in range(10)]
    old = [review(i, GOOD, days_ago=720) for i in range(10)]
    assert manner_temperature(many, now=NOW) > manner_temperature(old, now=NOW) > Decimal("36.5")


def test_tags_must_come_from_the_list_and_agree_with_the_rating():
    assert rules.tags_clean(rating=GOOD, tags=[P2, P1]) == [P1, P2]  # stored in the list's order
    assert rules.tags_clean(rating=OK, tags=[N1, P1]) == [P1, N1]
    for rating, tags in [
        (GOOD, ["<script>"]),
        (GOOD, [P1, P1]),
        (GOOD, [N1]),
        (BAD, [P1]),
        ("great", []),
        (GOOD, "시간 약속을 잘 지켜요"),
        (GOOD, [1]),
        (OK, list(rules.ALL_TAGS)),
    ]:
        with pytest.raises(rules.TagError):
            rules.tags_clean(rating=rating, tags=tags)


@pytest.mark.parametrize(
    ("value", "band"),
    [
        ("0.0", "cold"),
        ("29.9", "cold"),
        ("30.0", "cool"),
        ("36.4", "cool"),
        ("36.5", "mild"),
        ("39.9", "mild"),
        ("40.0", "warm"),
        ("50.0", "hot"),
        ("65.0", "hottest"),
        ("99.0", "hottest"),
        (None, "mild"),
        ("nan", "mild"),
        ("junk", "mild"),
    ],
)
def test_colour_bands(value, band):
    assert rules.temperature_band(value)[0] == band
