"""Helpers to assert on the books: a full snapshot of everything money-related and of what a
listing shows (title, prices, the leader's maximum, the recent bids, a hidden reason) and a
digest of every bid row, so a rejected action can be shown to have changed nothing."""

from __future__ import annotations

import hashlib

from auctions.audit import audit_ledger
from auctions.models import Auction, Bid
from notifications.models import Notification
from trades.models import Trade
from wallets.models import LedgerEntry, Wallet

AUCTION_FIELDS = (
    "status",
    "title",
    "description",
    "category",
    "condition",
    "start_price",
    "buy_now_price",
    "starts_at",
    "original_ends_at",
    "min_manner_temperature",
    "leader_max",
    "recent_bids",
    "hidden_reason",
    "current_price",
    "leader_id",
    "bid_count",
    "seq",
    "winner_id",
    "ends_at",
    "end_reason",
    "is_hidden",
    "buy_now_request_id",
)

TRADE_FIELDS = (
    "status",
    "seq",
    "auto_release_at",
    "buyer_refund",
    "seller_payout",
    "carrier",
    "tracking_number",
    "dispute_reason",
    "resolved_by_id",
)


def world() -> dict:
    return {
        "wallets": {w.user_id: (w.balance, w.locked_balance) for w in Wallet.objects.all()},
        "bids": Bid.objects.count(),
        "bid_rows": bid_rows_digest(),
        "ledger": LedgerEntry.objects.count(),
        "notifications": Notification.objects.count(),
        "auctions": {a["id"]: a for a in Auction.objects.values("id", *AUCTION_FIELDS)},
        "trades": {t["id"]: t for t in Trade.objects.values("id", *TRADE_FIELDS)},
    }


def bid_rows_digest() -> str:
    """Every bid row (amount, maximum, kind, request id, time), hashed: a changed maximum or a
    rewritten row shows, not only a changed count."""
    rows = Bid.objects.order_by("pk").values_list(
        "pk", "auction_id", "bidder_id", "amount", "max_amount", "kind", "client_request_id", "created_at"
    )
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()


def wallet_of(user) -> tuple[int, int]:
    w = Wallet.objects.get(user=user)
    return w.balance, w.locked_balance


def assert_books_balance() -> None:
    report = audit_ledger()
    assert report.ok, "\n".join(report.lines())


def server_decisions(monkeypatch) -> list[str]:
    """What each plain bid sent to PostgreSQL came to (auctions.services.bidding._bid_in_server,
    the bid decided in the server): "accepted", "refused" (a refusal raised) or "passed" (handed
    back to the compare-and-set path), in order."""
    from auctions.services import bidding
    from neighborbid.errors import DomainError

    decided: list[str] = []
    real_server = bidding._bid_in_server

    def server(**kwargs):
        try:
            result = real_server(**kwargs)
        except DomainError:
            decided.append("refused")
            raise
        decided.append("accepted" if result is not None else "passed")
        return result

    monkeypatch.setattr(bidding, "_bid_in_server", server)
    return decided
