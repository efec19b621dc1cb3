"""The wallets' half of the books' audit: reads only, inside the caller's snapshot.

Knows nothing about auctions: the caller (auctions.audit.audit_ledger, which knows both)
says how much each user's wallet should have locked, and adds its own checks. An audit that
only sums balance + locked cannot see escrow bugs (a bid and its release move money inside one
wallet), so this also recomputes every wallet from its ledger, row by row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, F, Q, Sum, Window

from wallets.models import LedgerEntry, Wallet

Kind = LedgerEntry.Kind


@dataclass
class AuditReport:
    wallets: int = 0
    entries: int = 0
    auctions_checked: int = 0
    total_held: int = 0
    escrow_held: int = 0
    external_net: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def lines(self) -> list[str]:
        head = [
            f"wallets: {self.wallets}, ledger entries: {self.entries}, ended auctions: {self.auctions_checked}",
            f"money on the platform: {self.total_held:,} won in wallets + {self.escrow_held:,} won in trades' "
            f"escrow; deposits - withdrawals +/- corrections: {self.external_net:,} won",
        ]
        if self.ok:
            return [*head, "OK: the books balance."]
        return [*head, f"{len(self.violations)} violation(s):", *(f"  - {v}" for v in self.violations)]


def snapshot(*, outermost: bool) -> None:
    """One REPEATABLE READ snapshot, so a running system cannot cause false alarms. Inside a
    caller's transaction (tests) the caller's transaction is the snapshot."""
    if connection.vendor == "postgresql" and outermost:
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


ESCROW_KINDS = (Kind.TRADE_ESCROW, Kind.TRADE_RELEASE, Kind.TRADE_REFUND)


def audit_wallets(
    report: AuditReport,
    *,
    expected_locked: Mapping[int, int],
    expected_label: str = "should hold",
    expected_escrow: int = 0,
) -> None:
    """The wallet invariants, appended to report.violations. Run inside one snapshot.

    (1) balances equal the sums of their ledger entries; (1b) each entry's balances follow from
    the previous entry of that wallet; (2) locked equals `expected_locked[user_id]`; (3) the
    platform holds exactly what came in minus what went out: in wallets, plus the escrow of
    open trades (money that left a buyer's wallet and was not yet paid out: recomputed here
    from the ledger, and compared with `expected_escrow`, the caller's Σ amounts of open
    trades); (4) nothing negative; internal movements (hold, release) never create or destroy
    money, escrow entries move money only in their own direction."""
    v = report.violations
    sums = {
        row["wallet_id"]: row
        for row in LedgerEntry.objects.values("wallet_id").annotate(
            b=Sum("balance_delta"), lk=Sum("locked_delta"), n=Count("id")
        )
    }
    total = 0
    for wallet in Wallet.objects.values("id", "user_id", "balance", "locked_balance"):
        report.wallets += 1
        wid, balance, locked = wallet["id"], wallet["balance"], wallet["locked_balance"]
        total += balance + locked
        s = sums.get(wid, {"b": 0, "lk": 0, "n": 0})
        report.entries += s["n"]
        if balance < 0 or locked < 0:
            v.append(f"wallet {wid}: negative balance {balance} / locked {locked}")
        if balance != (s["b"] or 0) or locked != (s["lk"] or 0):
            v.append(f"wallet {wid}: balance/locked {balance}/{locked} but ledger sums {s['b'] or 0}/{s['lk'] or 0}")
        expected = expected_locked.get(wallet["user_id"], 0)
        if locked != expected:
            v.append(f"wallet {wid} (user {wallet['user_id']}): locked {locked} but {expected_label} {expected}")
    report.total_held = total

    # (1b) every entry's "after" balances are the running sums of that wallet's entries
    running = LedgerEntry.objects.annotate(
        run_b=Window(Sum("balance_delta"), partition_by=[F("wallet_id")], order_by=F("id").asc()),
        run_lk=Window(Sum("locked_delta"), partition_by=[F("wallet_id")], order_by=F("id").asc()),
    ).values_list("id", "wallet_id", "balance_after", "locked_after", "run_b", "run_lk")
    broken = 0
    for entry_id, wid, b_after, lk_after, run_b, run_lk in running:
        if b_after != run_b or lk_after != run_lk:
            broken += 1
            if broken <= 20:
                v.append(
                    f"ledger entry {entry_id} (wallet {wid}): after {b_after}/{lk_after} but the previous "
                    f"entries and this one add up to {run_b}/{run_lk}"
                )

    external = LedgerEntry.objects.filter(kind__in=LedgerEntry.EXTERNAL_KINDS).aggregate(
        b=Sum("balance_delta"), lk=Sum("locked_delta")
    )
    report.external_net = (external["b"] or 0) + (external["lk"] or 0)
    escrow = LedgerEntry.objects.filter(kind__in=ESCROW_KINDS).aggregate(b=Sum("balance_delta"), lk=Sum("locked_delta"))
    report.escrow_held = -((escrow["b"] or 0) + (escrow["lk"] or 0))
    if report.escrow_held != expected_escrow:
        v.append(
            f"escrow: the ledger holds {report.escrow_held} in trades' "
            f"escrow but open trades add up to {expected_escrow}"
        )
    if report.total_held + report.escrow_held != report.external_net:
        v.append(
            f"books: wallets hold {report.total_held} + escrow {report.escrow_held} but deposits - withdrawals "
            f"+/- corrections = {report.external_net}"
        )
    payouts = [Kind.TRADE_RELEASE, Kind.TRADE_REFUND]
    wrong_way = LedgerEntry.objects.filter(
        Q(kind=Kind.TRADE_ESCROW, balance_delta__gt=0)
        | Q(kind=Kind.TRADE_ESCROW, locked_delta__gt=0)
        | Q(kind__in=payouts, balance_delta__lte=0)
        | (Q(kind__in=payouts) & ~Q(locked_delta=0))
        | Q(kind__in=ESCROW_KINDS, trade__isnull=True)
    )
    for entry_id in wrong_way.values_list("id", flat=True)[:20]:
        v.append(f"ledger entry {entry_id}: an escrow entry moving money the wrong way or linked to no trade")
    bad_internal = LedgerEntry.objects.filter(kind__in=[Kind.BID_HOLD, Kind.HOLD_RELEASE]).exclude(
        balance_delta=-F("locked_delta")
    )
    for entry_id in bad_internal.values_list("id", flat=True)[:20]:
        v.append(f"ledger entry {entry_id}: a hold or release that does not net to zero")
    negative_after = LedgerEntry.objects.filter(Q(balance_after__lt=0) | Q(locked_after__lt=0))
    for entry_id in negative_after.values_list("id", flat=True)[:20]:
        v.append(f"ledger entry {entry_id}: negative balance after")
