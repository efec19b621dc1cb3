"""The books' audit: reads only, in one consistent snapshot.

An audit that only sums balance + locked cannot see escrow bugs (a bid and its release move
money inside one wallet), so this also recomputes every wallet from its ledger and checks each
wallet's locked money against the holds of the auctions it leads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum

from auctions.models import Auction
from wallets.models import LedgerEntry, Wallet

Kind = LedgerEntry.Kind
LIVE = (Auction.Status.OPEN, Auction.Status.SCHEDULED)


@dataclass
class AuditReport:
    wallets: int = 0
    entries: int = 0
    auctions_checked: int = 0
    total_held: int = 0
    external_net: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        head = [
            f"wallets: {self.wallets}, ledger entries: {self.entries}, ended auctions: {self.auctions_checked}",
            f"money on the platform: {self.total_held:,} won; deposits - withdrawals +/- corrections: "
            f"{self.external_net:,} won",
        ]
        if self.ok:
            return [*head, "OK: the books balance."]
        return [*head, f"{len(self.violations)} violation(s):", *(f"  - {v}" for v in self.violations)]


def _snapshot(*, outermost: bool) -> None:
    """One REPEATABLE READ snapshot, so a running system cannot cause false alarms. Inside a
    caller's transaction (tests) the caller's transaction is the snapshot."""
    if connection.vendor == "postgresql" and outermost:
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def audit_ledger(*, max_violations: int = 200) -> AuditReport:
    report = AuditReport()
    v = report.violations
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        _snapshot(outermost=outermost)
        sums = {
            row["wallet_id"]: row
            for row in LedgerEntry.objects.values("wallet_id").annotate(
                b=Sum("balance_delta"), lk=Sum("locked_delta"), n=Count("id")
            )
        }
        holds: dict[int, int] = defaultdict(int)
        for row in (
            Auction.objects.filter(status__in=LIVE, leader__isnull=False)
            .values("leader_id")
            .annotate(total=Sum("current_price"))
        ):
            holds[row["leader_id"]] = row["total"]

        total = 0
        for wallet in Wallet.objects.values("id", "user_id", "balance", "locked_balance"):
            report.wallets += 1
            wid, balance, locked = wallet["id"], wallet["balance"], wallet["locked_balance"]
            total += balance + locked
            s = sums.get(wid, {"b": 0, "lk": 0, "n": 0})
            report.entries += s["n"]
            # (4) nothing negative
            if balance < 0 or locked < 0:
                v.append(f"wallet {wid}: negative balance {balance} / locked {locked}")
            # (1) balances equal the sums of their ledger entries
            if balance != (s["b"] or 0) or locked != (s["lk"] or 0):
                v.append(
                    f"wallet {wid}: balance/locked {balance}/{locked} but ledger sums {s['b'] or 0}/{s['lk'] or 0}"
                )
            # (2) locked equals the holds of the live auctions this user leads
            if locked != holds.get(wallet["user_id"], 0):
                v.append(
                    f"wallet {wid} (user {wallet['user_id']}): locked {locked} but leads live auctions "
                    f"holding {holds.get(wallet['user_id'], 0)}"
                )
        report.total_held = total

        # (3) the platform holds exactly what came in minus what went out
        external = LedgerEntry.objects.filter(kind__in=LedgerEntry.EXTERNAL_KINDS).aggregate(
            b=Sum("balance_delta"), lk=Sum("locked_delta")
        )
        report.external_net = (external["b"] or 0) + (external["lk"] or 0)
        if report.total_held != report.external_net:
            v.append(
                f"books: wallets hold {report.total_held} but deposits - withdrawals +/- corrections = "
                f"{report.external_net}"
            )
        # internal movements never create or destroy money
        bad_internal = LedgerEntry.objects.filter(kind__in=[Kind.BID_HOLD, Kind.HOLD_RELEASE]).exclude(
            balance_delta=-F("locked_delta")
        )
        for entry_id in bad_internal.values_list("id", flat=True)[:20]:
            v.append(f"ledger entry {entry_id}: a hold or release that does not net to zero")
        negative_after = LedgerEntry.objects.filter(Q(balance_after__lt=0) | Q(locked_after__lt=0))
        for entry_id in negative_after.values_list("id", flat=True)[:20]:
            v.append(f"ledger entry {entry_id}: negative balance after")

        # (5) each ended auction: at most one winner, its seller paid exactly once
        paid = defaultdict(lambda: {"n": 0, "amount": 0})
        for row in (
            LedgerEntry.objects.filter(kind=Kind.SALE_PROCEEDS)
            .values("auction_id")
            .annotate(n=Count("id"), amount=Sum("balance_delta"))
        ):
            paid[row["auction_id"]] = {"n": row["n"], "amount": row["amount"]}
        charged = defaultdict(lambda: {"n": 0, "amount": 0})
        for row in (
            LedgerEntry.objects.filter(kind=Kind.PURCHASE)
            .values("auction_id")
            .annotate(n=Count("id"), b=Sum("balance_delta"), lk=Sum("locked_delta"))
        ):
            charged[row["auction_id"]] = {"n": row["n"], "amount": -((row["b"] or 0) + (row["lk"] or 0))}
        seller_wallet = dict(Wallet.objects.values_list("user_id", "id"))
        proceeds_wallets = dict(
            LedgerEntry.objects.filter(kind=Kind.SALE_PROCEEDS).values_list("auction_id", "wallet_id")
        )
        for a in Auction.objects.values("id", "status", "winner_id", "seller_id", "current_price", "leader_id"):
            aid, status = a["id"], a["status"]
            p, c = paid[aid], charged[aid]
            if status == Auction.Status.SOLD:
                report.auctions_checked += 1
                if a["winner_id"] is None:
                    v.append(f"auction {aid}: sold without a winner")
                if p["n"] != 1 or p["amount"] != a["current_price"]:
                    v.append(
                        f"auction {aid}: seller paid {p['n']} time(s), {p['amount']} for price {a['current_price']}"
                    )
                elif proceeds_wallets.get(aid) != seller_wallet.get(a["seller_id"]):
                    v.append(f"auction {aid}: proceeds went to a wallet that is not the seller's")
                if c["n"] != 1 or c["amount"] != a["current_price"]:
                    v.append(
                        f"auction {aid}: buyer charged {c['n']} time(s), {c['amount']} for price {a['current_price']}"
                    )
            else:
                if status in (Auction.Status.UNSOLD, Auction.Status.CANCELLED):
                    report.auctions_checked += 1
                if a["winner_id"] is not None:
                    v.append(f"auction {aid}: status {status} but has a winner")
                if p["n"] or c["n"]:
                    v.append(f"auction {aid}: status {status} but money changed hands")
        del v[max_violations:]
    return report
