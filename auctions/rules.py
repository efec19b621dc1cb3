"""Pure auction rules (no database): the price ladder, the minimum next bid, soft close.

Used by the services (under the lock) and by the selectors (to show the same numbers)."""

from __future__ import annotations

from dataclasses import dataclass
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


def sure_loser_minimum(
    *, status: str, has_bids: bool, current_price: int, amount: int, is_leader: bool = False
) -> int | None:
    """The minimum next bid when `amount` is certainly too low for a *committed* state, else
    None. Only an open auction with bids qualifies: its minimum can only grow from there (no
    edits once bid on), so a bid too low now is too low under the lock too. Used by the
    bidding service (before the lock) and by the live door (from the state it holds)."""
    if status != "open" or not has_bids or is_leader:
        return None  # a leader's new bid raises their maximum: no minimum applies
    minimum = min_next_bid(current_price=current_price, has_bids=True)
    return minimum if amount < minimum else None


# A bid above this many times the minimum next bid is asked about once more. The live page gets
# the factor (and the buy-now price and PRICE_MAX) from the server rather than its own copy.
CONFIRM_FACTOR = 2


def far_above_minimum(*, amount: int, minimum: int) -> bool:
    """More than twice the minimum next bid: a slip of a zero? The pages ask once more."""
    return amount > CONFIRM_FACTOR * minimum


def bid_needs_confirmation(
    *, amount: int, maximum: int | None, minimum: int, buy_now_price: int | None, price_max: int
) -> bool:
    """Ask once more before placing this bid? Only a bid the service would accept on its amounts
    and that lies far above the minimum (the amount or its maximum): a bid the service refuses
    anyway (at or above buy-now, above the price limit) gets its refusal, not a question."""
    top = max(amount, maximum or 0)
    refused_anyway = (buy_now_price is not None and top >= buy_now_price) or top > price_max
    return not refused_anyway and far_above_minimum(amount=top, minimum=minimum)


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


# --- max (proxy) bidding -------------------------------------------------------------------

BID = "bid"  # a bid someone placed (with its maximum)
AUTO = "auto"  # an automatic counter-bid made for a maximum
RAISE = "raise"  # the leader raised their maximum (the price does not move)


@dataclass(frozen=True)
class BidRow:
    bidder_id: int
    amount: int
    max_amount: int
    kind: str


@dataclass(frozen=True)
class ProxyOutcome:
    """What an accepted bid does to an auction: the new leader, their whole maximum, the price,
    the Bid rows to record (in order), and the escrow: the new leader's hold and the previous
    leader's release (whole maximums)."""

    leader_id: int
    leader_max: int
    price: int
    rows: tuple[BidRow, ...]
    hold: tuple[int, int] | None  # (user id, amount) moved balance -> locked
    release: tuple[int, int] | None  # (user id, amount) moved locked -> balance

    @property
    def price_moved(self) -> bool:
        return any(row.kind != RAISE for row in self.rows)


def proxy_bid(
    *, leader_id: int | None, leader_max: int | None, price: int, bidder_id: int, amount: int, max_amount: int
) -> ProxyOutcome:
    """The second-price rule with maximums held in escrow (docs/architecture.md).

    The caller has checked the bid itself: amount ≥ the minimum next bid (unless the bidder
    leads), max_amount ≥ amount, both below a buy-now price, and that the maximum may be held.

    - No leader: the bidder leads at their amount, holding their whole maximum.
    - The leader bids again: their maximum rises (only the difference is held), never their
      price; a maximum that is not higher is refused by the caller (`maximum_not_raised`).
    - A higher maximum than the leader's wins at the lowest price that beats the old maximum by
      one ladder step, capped at the new maximum, and never below the amount typed. The old
      leader's automatic answer (up to their maximum) is recorded when it reached the amount.
    - A maximum not higher than the leader's loses at once: the leader's automatic counter-bid
      sets the price one step above it, capped at the leader's maximum (a tie keeps the
      earlier maximum, at that maximum).
    """
    if leader_id is None or leader_max is None:
        row = BidRow(bidder_id, amount, max_amount, BID)
        return ProxyOutcome(bidder_id, max_amount, amount, (row,), (bidder_id, max_amount), None)
    if bidder_id == leader_id:
        new_max = max(amount, max_amount)
        row = BidRow(bidder_id, price, new_max, RAISE)
        return ProxyOutcome(bidder_id, new_max, price, (row,), (bidder_id, new_max - leader_max), None)
    placed = BidRow(bidder_id, amount, max_amount, BID)
    if max_amount > leader_max:
        new_price = max(amount, min(leader_max + bid_increment(leader_max), max_amount))
        rows = [placed]
        if leader_max >= amount and leader_max > price:
            rows.append(BidRow(leader_id, leader_max, leader_max, AUTO))
        if new_price > rows[-1].amount:
            rows.append(BidRow(bidder_id, new_price, max_amount, AUTO))
        return ProxyOutcome(
            bidder_id, max_amount, new_price, tuple(rows), (bidder_id, max_amount), (leader_id, leader_max)
        )
    counter = leader_max if max_amount == leader_max else min(max_amount + bid_increment(max_amount), leader_max)
    answered = (placed, BidRow(leader_id, counter, leader_max, AUTO))
    return ProxyOutcome(leader_id, leader_max, counter, answered, None, None)
