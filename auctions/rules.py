"""Pure auction rules (no database): the price ladder, the minimum next bid, soft close.

Used by the services (under the lock) and by the selectors (to show the same numbers)."""

from __future__ import annotations

from datetime import datetime, timedelta

# (upper bound exclusive, increment) in won. Above the last bound: 50,000.
PRICE_LADDER: tuple[tuple[int, int], ...] = (
    (10_000, 500),
    (50_000, 1_000),
    (100_000, 2_000),
    (500_000, 5_000),
    (1_000_000, 10_000),
)
TOP_INCREMENT = 50_000


def bid_increment(price: int) -> int:
    for bound, step in PRICE_LADDER:
        if price < bound:
            return step
    return TOP_INCREMENT


def min_next_bid(*, current_price: int, has_bids: bool) -> int:
    """The first bid may equal the start price; later bids must beat the current price by one
    step of the ladder. Any amount at or above this minimum is accepted."""
    if not has_bids:
        return current_price
    return current_price + bid_increment(current_price)


def sure_loser_minimum(*, status: str, has_bids: bool, current_price: int, amount: int) -> int | None:
    """The minimum next bid when `amount` is certainly too low for a *committed* state, else
    None. Only an open auction with bids qualifies: its minimum can only grow from there (no
    edits once bid on), so a bid too low now is too low under the lock too. Used by the
    bidding service (before the lock) and by the live door (from the state it holds)."""
    if status != "open" or not has_bids:
        return None
    minimum = min_next_bid(current_price=current_price, has_bids=True)
    return minimum if amount < minimum else None


def soft_close_end(
    *, now: datetime, ends_at: datetime, original_ends_at: datetime, window_s: int, extension_s: int, cap_s: int
) -> datetime:
    """The auction's end after a bid accepted at `now` (unchanged unless inside the window)."""
    if window_s <= 0 or extension_s <= 0 or ends_at - now > timedelta(seconds=window_s):
        return ends_at
    limit = original_ends_at + timedelta(seconds=cap_s)
    proposed = min(now + timedelta(seconds=extension_s), limit)
    return max(ends_at, proposed)


def mask_name(name: str | None) -> str:
    """'김민수' → '김*수', 'jisoo' → 'j***o', '민지' → '민*'."""
    name = (name or "").strip()
    if len(name) <= 1:
        return (name or "?") + "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
