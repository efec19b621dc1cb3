"""The shill-bidding signals, one pattern at a time, on hand-made histories (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fraud import rules
from fraud.rules import AUTO, BID, AuctionRecord, BidRow, PairHistory

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SELLER, SHILL, LEADER, OTHER = 1, 2, 3, 4


def auction(pk: int, bids: list[BidRow], *, winner: int | None = LEADER, hours: int = 2) -> AuctionRecord:
    price = max((b.amount for b in bids), default=10_000)
    return AuctionRecord(pk, T0, T0 + timedelta(hours=hours), winner, price, tuple(bids))


def bid(who: int, amount: int, *, maximum: int | None = None, kind: str = BID, minute: int = 1) -> BidRow:
    return BidRow(who, amount, maximum if maximum is not None else amount, kind, T0 + timedelta(minutes=minute))


def probed_auction(pk: int) -> AuctionRecord:
    """The leader holds a hidden 20,000; the shill pushes 11,000 → 13,000 → 15,000 → 17,000 → 19,000,
    each answered automatically, and stops one step under the maximum."""
    rows = [bid(LEADER, 10_000, maximum=20_000)]
    for amount in (11_000, 13_000, 15_000, 17_000, 19_000):
        rows.append(bid(SHILL, amount))
        rows.append(bid(LEADER, amount + 1_000, maximum=20_000, kind=AUTO))
    return auction(pk, rows)


def history(auctions: list[AuctionRecord], **kw) -> PairHistory:
    defaults = dict(
        seller_id=SELLER,
        bidder_id=SHILL,
        auctions=tuple(auctions),
        bidder_auctions_total=len(auctions),
        bidder_wins_total=0,
        bidder_joined=T0 - timedelta(days=400),
        same_neighbourhood=False,
        shared_device=False,
    )
    defaults.update(kw)
    return PairHistory(**defaults)


def codes(h: PairHistory) -> set[str]:
    return {s.code for s in rules.pair_signals(h)}


def test_a_shill_pattern_fires_several_independent_signals():
    h = history([probed_auction(pk) for pk in (1, 2, 3)], bidder_joined=T0 - timedelta(days=3), same_neighbourhood=True)

    found = codes(h)

    assert {"concentration", "never_wins", "max_probing", "tiny_increments", "early_and_quit", "fresh_account"} <= found
    assert rules.is_suspicious(rules.pair_signals(h))


def test_a_loyal_neighbour_who_wins_with_a_maximum_fires_one_signal_at_most():
    # Given a neighbour of a year who buys most things from one seller, one maximum per auction
    loyal = [
        auction(pk, [bid(OTHER, 10_000, maximum=15_000), bid(SHILL, 16_000, maximum=30_000, minute=90)], winner=SHILL)
        for pk in (1, 2, 3, 4)
    ]
    h = history(loyal, bidder_auctions_total=5, bidder_wins_total=4)

    # Then only the concentration shows, which alone is not enough
    assert codes(h) == {"concentration"}
    assert not rules.is_suspicious(rules.pair_signals(h))


def test_concentration_needs_three_auctions_and_most_of_the_bidders_bidding():
    three = [probed_auction(pk) for pk in (1, 2, 3)]
    assert rules.concentration(history(three, bidder_auctions_total=5)) is not None  # 3/5 = 60 %
    assert rules.concentration(history(three, bidder_auctions_total=6)) is None  # 50 %
    assert rules.concentration(history(three[:2], bidder_auctions_total=2)) is None


def test_max_probing_needs_the_price_pushed_within_one_step_of_the_hidden_maximum():
    stopped_far = [
        auction(
            pk,
            [
                bid(LEADER, 10_000, maximum=50_000),
                bid(SHILL, 11_000),
                bid(LEADER, 12_000, maximum=50_000, kind=AUTO),
                bid(SHILL, 13_000),
                bid(LEADER, 14_000, maximum=50_000, kind=AUTO),
            ],
        )
        for pk in (1, 2)
    ]
    assert rules.max_probing(history([probed_auction(1), probed_auction(2)])) is not None
    assert rules.max_probing(history(stopped_far)) is None
    assert rules.max_probing(history([probed_auction(1)])) is None  # one auction is not a pattern


def test_tiny_increments_ignore_a_bid_whose_maximum_is_above_its_amount():
    with_max = [
        auction(pk, [bid(OTHER, 10_000)] + [bid(SHILL, 10_500 + i, maximum=90_000) for i in range(2)], winner=SHILL)
        for pk in (1, 2, 3)
    ]
    assert rules.tiny_increments(history(with_max)) is None
    assert rules.tiny_increments(history([probed_auction(pk) for pk in (1, 2, 3)])) is not None  # 15 plain minimums
    assert rules.tiny_increments(history([probed_auction(pk) for pk in (1, 2)])) is None  # two auctions: no pattern


def test_early_and_quit_counts_losses_with_several_bids_all_in_the_first_half():
    def run(minutes: list[int]) -> list[AuctionRecord]:
        rows = [bid(LEADER, 10_000, maximum=90_000)] + [bid(SHILL, 10_500 + i, minute=m) for i, m in enumerate(minutes)]
        return [auction(pk, rows) for pk in (1, 2, 3)]

    assert rules.early_and_quit(history(run([10, 20]))) is not None
    assert rules.early_and_quit(history(run([10, 100]))) is None  # came back late
    assert rules.early_and_quit(history(run([10]))) is None  # one early maximum, beaten: honest


def test_never_wins_looks_at_every_auction_of_the_window():
    three = [probed_auction(pk) for pk in (1, 2, 3)]
    assert rules.never_wins(history(three)) is not None
    assert rules.never_wins(history(three, bidder_wins_total=1)) is None  # wins elsewhere


def test_a_fresh_account_counts_only_in_the_sellers_own_neighbourhood():
    fresh = dict(bidder_joined=T0 - timedelta(days=2))
    assert rules.fresh_account(history([probed_auction(1)], same_neighbourhood=True, **fresh)) is not None
    assert rules.fresh_account(history([probed_auction(1)], same_neighbourhood=False, **fresh)) is None
    old = dict(bidder_joined=T0 - timedelta(days=15))
    assert rules.fresh_account(history([probed_auction(1)], same_neighbourhood=True, **old)) is None


def test_one_signal_is_never_a_case_and_two_are():
    one = [rules.Signal("shared_device", "", "")]
    assert not rules.is_suspicious(one)
    assert not rules.is_suspicious(one + one)  # the same signal twice is still one
    assert rules.is_suspicious(one + [rules.Signal("never_wins", "", "")])
