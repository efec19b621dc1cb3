"""Shill-bidding signals: pure functions over one (seller, bidder) pair's history (no database).

A seller bidding on their own auctions through a friend or a second account leaves patterns
that honest bidders rarely show together. Each signal below is one pattern; a pair is sent to
the moderators only when two or more independent signals fire (TRIGGER_AT), and nothing is
ever cancelled automatically. A hard link (the same browser as the seller) is also a signal,
and the bid service refuses such a bidder outright (auctions: SellerLinked).

Thresholds are deliberately conservative: a loyal neighbour who often buys from one seller
fires `concentration` only (they win), which alone is not enough."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from auctions.rules import AUTO, BID, bid_increment

TRIGGER_AT = 2  # independent signals needed for a case
MIN_AUCTIONS = 3  # of one seller's auctions, for the pattern signals
CONCENTRATION_SHARE = 0.6
PROBING_AUCTIONS = 2
PROBING_MIN_BIDS = 2
TINY_MIN_BIDS = 5
TINY_SHARE = 0.8
EARLY_SHARE = 0.6
EARLY_MIN_BIDS = 2
FRESH_DAYS = 14


@dataclass(frozen=True)
class BidRow:
    bidder_id: int
    amount: int
    max_amount: int
    kind: str
    created_at: datetime


@dataclass(frozen=True)
class AuctionRecord:
    id: int
    starts_at: datetime
    ends_at: datetime  # the end first announced (soft close does not stretch "early")
    winner_id: int | None
    final_price: int
    bids: tuple[BidRow, ...]  # every bid row of the auction, oldest first


@dataclass(frozen=True)
class PairHistory:
    seller_id: int
    bidder_id: int
    auctions: tuple[AuctionRecord, ...]  # the seller's ended auctions the bidder bid on
    bidder_auctions_total: int  # auctions of any seller the bidder bid on, same window
    bidder_wins_total: int  # auctions of any seller the bidder won, same window
    bidder_joined: datetime
    same_neighbourhood: bool
    shared_device: bool


@dataclass(frozen=True)
class Signal:
    code: str
    label: str
    detail: str
    auction_ids: tuple[int, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "label": self.label, "detail": self.detail, "auction_ids": list(self.auction_ids)}


def _own(auction: AuctionRecord, bidder_id: int) -> list[BidRow]:
    return [b for b in auction.bids if b.bidder_id == bidder_id and b.kind == BID]


def concentration(h: PairHistory) -> Signal | None:
    n = len(h.auctions)
    total = max(h.bidder_auctions_total, n)
    if n >= MIN_AUCTIONS and n / total >= CONCENTRATION_SHARE:
        return Signal(
            "concentration",
            "한 판매자에게 몰린 입찰",
            f"입찰한 경매 {total}개 중 {n}개({n * 100 // total}%)가 이 판매자의 경매예요.",
            tuple(a.id for a in h.auctions),
        )
    return None


def never_wins(h: PairHistory) -> Signal | None:
    n = len(h.auctions)
    if n >= MIN_AUCTIONS and h.bidder_wins_total == 0:
        return Signal(
            "never_wins",
            "낙찰받지 않는 입찰",
            f"이 판매자의 경매 {n}개에 입찰했지만 기간 안에 어느 경매에서도 낙찰받지 않았어요.",
            tuple(a.id for a in h.auctions),
        )
    return None


def _probed(a: AuctionRecord, bidder_id: int) -> bool:
    """The bidder lost, placed several bids that a leader's maximum answered automatically, and
    stopped once the answers had pushed the price within one ladder step of that hidden maximum."""
    if a.winner_id == bidder_id:
        return False
    answered = 0
    last: BidRow | None = None
    for earlier, later in zip(a.bids, a.bids[1:], strict=False):
        if earlier.bidder_id == bidder_id and earlier.kind == BID and later.kind == AUTO:
            if later.bidder_id != bidder_id:
                answered += 1
                last = later
    return (
        answered >= PROBING_MIN_BIDS
        and last is not None
        and last.amount + bid_increment(last.amount) >= last.max_amount
    )


def max_probing(h: PairHistory) -> Signal | None:
    hits = tuple(a.id for a in h.auctions if _probed(a, h.bidder_id))
    if len(hits) >= PROBING_AUCTIONS:
        return Signal(
            "max_probing",
            "최대 입찰가 떠보기",
            f"경매 {len(hits)}개에서 자동 입찰에 밀리며 최고 입찰자의 숨은 최대 입찰가 "
            "바로 아래까지 값을 올리고 멈췄어요.",
            hits,
        )
    return None


def tiny_increments(h: PairHistory) -> Signal | None:
    total = tiny = 0
    hits: list[int] = []
    for a in h.auctions:
        price = None
        for b in a.bids:
            # A bid with a maximum above its amount types the minimum and lets the system bid:
            # that is how max bidding is meant to be used, not a pattern.
            plain = b.kind == BID and b.max_amount == b.amount
            if b.bidder_id == h.bidder_id and plain and price is not None:
                total += 1
                if b.amount == price + bid_increment(price):
                    tiny += 1
                    if a.id not in hits:
                        hits.append(a.id)
            if b.kind in (BID, AUTO):
                price = b.amount
    if len(hits) >= MIN_AUCTIONS and total >= TINY_MIN_BIDS and tiny / total >= TINY_SHARE:
        return Signal(
            "tiny_increments",
            "최소 단위로만 올리는 입찰",
            f"이 판매자의 경매에서 입찰 {total}번 중 {tiny}번이 딱 한 호가 단위만 올린 금액이에요.",
            tuple(hits),
        )
    return None


def early_and_quit(h: PairHistory) -> Signal | None:
    hits: list[int] = []
    for a in h.auctions:
        own = _own(a, h.bidder_id)
        # Several bids, all early, then silence: one early maximum that was beaten is honest.
        if len(own) < EARLY_MIN_BIDS or a.winner_id == h.bidder_id:
            continue
        half = a.starts_at + (a.ends_at - a.starts_at) / 2
        if all(b.created_at < half for b in own):
            hits.append(a.id)
    n = len(h.auctions)
    if len(hits) >= MIN_AUCTIONS and len(hits) / n >= EARLY_SHARE:
        return Signal(
            "early_and_quit",
            "초반에만 올리고 빠지는 입찰",
            f"경매 {n}개 중 {len(hits)}개에서 앞쪽 절반에만 여러 번 입찰하고 그 뒤로는 입찰하지 않았어요.",
            tuple(hits),
        )
    return None


def fresh_account(h: PairHistory) -> Signal | None:
    """An account made in the seller's own 동 shortly before the seller's first auction it bid
    on. (Only the sign-up counts: everyone re-verifies their 동 every 30 days, so a recent
    verification says nothing.)"""
    if not h.auctions or not h.same_neighbourhood:
        return None
    first = min(a.starts_at for a in h.auctions)
    last = max(a.ends_at for a in h.auctions)
    if first - timedelta(days=FRESH_DAYS) <= h.bidder_joined <= last:
        when = (
            f"이 판매자의 첫 경매 {(first - h.bidder_joined).days}일 전에"
            if h.bidder_joined <= first
            else "이 판매자의 경매가 진행되는 중에"
        )
        return Signal(
            "fresh_account",
            "경매 직전에 만든 같은 동네 계정",
            f"판매자와 같은 동네에서 {when} 가입했어요.",
            tuple(a.id for a in h.auctions),
        )
    return None


def shared_device(h: PairHistory) -> Signal | None:
    if h.shared_device:
        return Signal("shared_device", "판매자와 같은 기기", "판매자와 같은 브라우저에서 로그인한 적이 있어요.")
    return None


SIGNALS = (concentration, never_wins, max_probing, tiny_increments, early_and_quit, fresh_account, shared_device)


def pair_signals(h: PairHistory) -> list[Signal]:
    return [s for s in (rule(h) for rule in SIGNALS) if s is not None]


def is_suspicious(signals: list[Signal]) -> bool:
    return len({s.code for s in signals}) >= TRIGGER_AT
