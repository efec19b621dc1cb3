"""Helpers to assert on the books: a full snapshot of everything money-related, so a rejected
action can be shown to have changed nothing."""

from __future__ import annotations

from auctions.audit import audit_ledger
from auctions.models import Auction, Bid
from notifications.models import Notification
from trades.models import Trade
from wallets.models import LedgerEntry, Wallet

AUCTION_FIELDS = (
    "status",
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
        "ledger": LedgerEntry.objects.count(),
        "notifications": Notification.objects.count(),
        "auctions": {a["id"]: a for a in Auction.objects.values("id", *AUCTION_FIELDS)},
        "trades": {t["id"]: t for t in Trade.objects.values("id", *TRADE_FIELDS)},
    }


def wallet_of(user) -> tuple[int, int]:
    w = Wallet.objects.get(user=user)
    return w.balance, w.locked_balance


def assert_books_balance() -> None:
    report = audit_ledger()
    assert report.ok, "\n".join(report.lines())
