from datetime import UTC, datetime, timedelta

import pytest

from auctions.rules import bid_increment, mask_name, min_next_bid, soft_close_end


@pytest.mark.parametrize(
    ("price", "step"),
    [
        (0, 500),
        (9_999, 500),
        (10_000, 1_000),
        (49_999, 1_000),
        (50_000, 2_000),
        (99_999, 2_000),
        (100_000, 5_000),
        (499_999, 5_000),
        (500_000, 10_000),
        (999_999, 10_000),
        (1_000_000, 50_000),
        (50_000_000, 50_000),
    ],
)
def test_price_ladder(price, step):
    assert bid_increment(price) == step


def test_first_bid_may_equal_start_price_and_later_bids_add_one_step():
    assert min_next_bid(current_price=10_000, has_bids=False) == 10_000
    assert min_next_bid(current_price=10_000, has_bids=True) == 11_000
    assert min_next_bid(current_price=9_500, has_bids=True) == 10_000


T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def end_after_bid(*, seconds_left, extension=60, window=60, cap=1800, already_extended=0):
    original = T0 + timedelta(seconds=seconds_left - already_extended)
    ends_at = T0 + timedelta(seconds=seconds_left)
    return soft_close_end(
        now=T0, ends_at=ends_at, original_ends_at=original, window_s=window, extension_s=extension, cap_s=cap
    )


def test_bid_outside_the_window_does_not_extend():
    assert end_after_bid(seconds_left=61) == T0 + timedelta(seconds=61)


def test_bid_inside_the_window_extends_to_bid_time_plus_extension():
    assert end_after_bid(seconds_left=10) == T0 + timedelta(seconds=60)


def test_extension_never_shortens_the_auction():
    assert end_after_bid(seconds_left=50, extension=30) == T0 + timedelta(seconds=50)


def test_total_extension_is_capped():
    # original end was 1790 s ago + 10 s: the cap (1800 s after the original end) allows 20 s more
    ends = end_after_bid(seconds_left=10, already_extended=1790, cap=1800)
    assert ends == T0 + timedelta(seconds=20)


def test_soft_close_disabled_with_zero_window():
    assert end_after_bid(seconds_left=10, window=0) == T0 + timedelta(seconds=10)


@pytest.mark.parametrize(
    ("name", "masked"), [("김민수", "김*수"), ("jisoo", "j***o"), ("민지", "민*"), ("A", "A*"), ("", "?*")]
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked
