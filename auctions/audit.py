"""The books' audit: reads only, in one consistent snapshot (`manage.py audit_ledger`).

Here, where auctions and wallets are both known: the wallets' own invariants
(wallets.audit.audit_wallets) with each wallet's expected locked money (the holds of the live
auctions its user leads), then the auctions' invariants: one payout per sale, and each bid's
hold and release of the right size, and the trades' escrow (trades.audit).
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from auctions.models import Auction, Bid
from trades.audit import audit_trades
from trades.models import Trade
from wallets.audit import AuditReport, audit_wallets, snapshot
from wallets.models import LedgerEntry, Wallet

Kind = LedgerEntry.Kind
LIVE = (Auction.Status.OPEN, Auction.Status.SCHEDULED)


def audit_ledger(*, max_violations: int = 200) -> AuditReport:
    report = AuditReport()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        snapshot(outermost=outermost)
        holds: dict[int, int] = defaultdict(int)
        for row in (
            Auction.objects.filter(status__in=LIVE, leader__isnull=False)
            .values("leader_id")
            .annotate(total=Sum(Coalesce("leader_max", "current_price")))
        ):
            holds[row["leader_id"]] = row["total"]
        escrow = audit_trades(report)
        audit_wallets(
            report, expected_locked=holds, expected_label="leads live auctions holding", expected_escrow=escrow
        )
        _audit_sales(report)
        _audit_bid_holds(report)
        del report.violations[max_violations:]
    return report


def _audit_bid_holds(report: AuditReport) -> None:
    """Replay every auction's bids with their maximums: each bid holds exactly what it should
    (a new leader's whole maximum, or a leader's raise of their own) and releases exactly the
    previous leader's whole maximum, from the right wallets; automatic bids move no money."""
    v = report.violations
    wallet_of = dict(Wallet.objects.values_list("user_id", "id"))
    holds: dict[int, list[tuple[int, int]]] = defaultdict(list)
    releases: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for bid_id, kind, wallet_id, locked_delta in LedgerEntry.objects.filter(
        bid__isnull=False, kind__in=[Kind.BID_HOLD, Kind.HOLD_RELEASE]
    ).values_list("bid_id", "kind", "wallet_id", "locked_delta"):
        (holds if kind == Kind.BID_HOLD else releases)[bid_id].append((wallet_id, locked_delta))
    leading: dict[int, tuple[int, int]] = {}  # auction -> (leader, their maximum)
    for bid_id, auction_id, bidder_id, max_amount, kind in Bid.objects.order_by("auction_id", "id").values_list(
        "id", "auction_id", "bidder_id", "max_amount", "kind"
    ):
        before = leading.get(auction_id)
        expected_hold: list[tuple[int | None, int]] = []
        expected_release: list[tuple[int | None, int]] = []
        if kind == Bid.Kind.AUTO:
            pass  # an automatic bid moves no money: the maximum behind it is already held
        elif before is not None and before[0] == bidder_id:  # a leader raises their maximum
            expected_hold = [(wallet_of.get(bidder_id), max_amount - before[1])]
            leading[auction_id] = (bidder_id, max_amount)
        elif before is None or max_amount > before[1]:  # takes the lead
            expected_hold = [(wallet_of.get(bidder_id), max_amount)]
            if before is not None:
                expected_release = [(wallet_of.get(before[0]), -before[1])]
            leading[auction_id] = (bidder_id, max_amount)
        # else: a maximum that lost at once holds nothing
        if holds.get(bid_id, []) != expected_hold:
            v.append(f"bid {bid_id}: holds {holds.get(bid_id, [])} but should hold {expected_hold}")
        if releases.get(bid_id, []) != expected_release:
            v.append(f"bid {bid_id}: releases {releases.get(bid_id, [])} but should release {expected_release}")


def _audit_sales(report: AuditReport) -> None:
    """Each ended auction: at most one winner, and a sale paid exactly once, one of two ways:
    before trades, the buyer charged once (purchase) and the seller paid once (sale_proceeds);
    since trades, one trade between the winner and the seller for the final price (whose
    escrow trades.audit follows) and no purchase / sale_proceeds. Unsold or cancelled
    auctions moved no money and have no trade."""
    v = report.violations
    paid: defaultdict[int, dict[str, int]] = defaultdict(lambda: {"n": 0, "amount": 0})
    for row in (
        LedgerEntry.objects.filter(kind=Kind.SALE_PROCEEDS)
        .values("auction_id")
        .annotate(n=Count("id"), amount=Sum("balance_delta"))
    ):
        paid[row["auction_id"]] = {"n": row["n"], "amount": row["amount"]}
    charged: defaultdict[int, dict[str, int]] = defaultdict(lambda: {"n": 0, "amount": 0})
    for purchase in (
        LedgerEntry.objects.filter(kind=Kind.PURCHASE)
        .values("auction_id")
        .annotate(n=Count("id"), b=Sum("balance_delta"), lk=Sum("locked_delta"))
    ):
        charged[purchase["auction_id"]] = {
            "n": purchase["n"],
            "amount": -((purchase["b"] or 0) + (purchase["lk"] or 0)),
        }
    trades = {t["auction_id"]: t for t in Trade.objects.values("auction_id", "buyer_id", "seller_id", "amount")}
    seller_wallet = dict(Wallet.objects.values_list("user_id", "id"))
    proceeds_wallets = dict(LedgerEntry.objects.filter(kind=Kind.SALE_PROCEEDS).values_list("auction_id", "wallet_id"))
    for a in Auction.objects.values("id", "status", "winner_id", "seller_id", "current_price", "leader_id"):
        aid, status = a["id"], a["status"]
        p, c, trade = paid[aid], charged[aid], trades.get(aid)
        if status == Auction.Status.SOLD:
            report.auctions_checked += 1
            if a["winner_id"] is None:
                v.append(f"auction {aid}: sold without a winner")
            if trade is not None:
                if p["n"] or c["n"]:
                    v.append(f"auction {aid}: sold through a trade but also paid directly (purchase/sale_proceeds)")
                if (trade["buyer_id"], trade["seller_id"], trade["amount"]) != (
                    a["winner_id"],
                    a["seller_id"],
                    a["current_price"],
                ):
                    v.append(
                        f"auction {aid}: its trade is {trade['amount']} from user {trade['buyer_id']} to "
                        f"user {trade['seller_id']}, but the sale is {a['current_price']} from the winner "
                        f"{a['winner_id']} to the seller {a['seller_id']}"
                    )
                continue
            if p["n"] != 1 or p["amount"] != a["current_price"]:
                v.append(f"auction {aid}: seller paid {p['n']} time(s), {p['amount']} for price {a['current_price']}")
            elif proceeds_wallets.get(aid) != seller_wallet.get(a["seller_id"]):
                v.append(f"auction {aid}: proceeds went to a wallet that is not the seller's")
            if c["n"] != 1 or c["amount"] != a["current_price"]:
                v.append(f"auction {aid}: buyer charged {c['n']} time(s), {c['amount']} for price {a['current_price']}")
        else:
            if status in (Auction.Status.UNSOLD, Auction.Status.CANCELLED):
                report.auctions_checked += 1
            if a["winner_id"] is not None:
                v.append(f"auction {aid}: status {status} but has a winner")
            if p["n"] or c["n"] or trade is not None:
                v.append(f"auction {aid}: status {status} but money changed hands")
