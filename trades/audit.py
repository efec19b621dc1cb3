"""The trades' half of the books' audit: reads only, inside the caller's snapshot
(auctions.audit.audit_ledger).

Each trade's escrow is recomputed from the ledger (escrow in − releases − refunds): an open
trade holds exactly its amount; a finished one holds nothing and was paid out exactly once,
in the way its status says (all to the seller, all to the buyer, or a split of the two
summing to the amount, never both in full), to the right wallets."""

from __future__ import annotations

from collections import defaultdict

from trades.models import Trade
from wallets.audit import AuditReport
from wallets.models import LedgerEntry, Wallet

Kind = LedgerEntry.Kind
Status = Trade.Status


def audit_trades(report: AuditReport) -> int:
    """Append the trade invariants' violations; return Σ amounts of open trades (the escrow
    the wallets' audit must find)."""
    v = report.violations
    wallet_of = dict(Wallet.objects.values_list("user_id", "id"))
    entries: dict[int, dict[str, list[tuple[int, int, int, int | None]]]] = defaultdict(lambda: defaultdict(list))
    for trade_id, kind, wallet_id, b, lk, auction_id in LedgerEntry.objects.filter(
        kind__in=[Kind.TRADE_ESCROW, Kind.TRADE_RELEASE, Kind.TRADE_REFUND]
    ).values_list("trade_id", "kind", "wallet_id", "balance_delta", "locked_delta", "auction_id"):
        entries[trade_id][kind].append((wallet_id, b, lk, auction_id))
    open_total = 0
    seen = set()
    for t in Trade.objects.values(
        "id", "auction_id", "buyer_id", "seller_id", "amount", "status", "buyer_refund", "seller_payout"
    ):
        tid, amount, status = t["id"], t["amount"], t["status"]
        seen.add(tid)
        e = entries.get(tid, {})
        buyer_wallet, seller_wallet = wallet_of.get(t["buyer_id"]), wallet_of.get(t["seller_id"])
        ins = e.get(Kind.TRADE_ESCROW, [])
        releases = e.get(Kind.TRADE_RELEASE, [])
        refunds = e.get(Kind.TRADE_REFUND, [])
        if len(ins) != 1 or -(ins[0][1] + ins[0][2]) != amount or ins[0][0] != buyer_wallet:
            v.append(f"trade {tid}: escrow in {ins} but should be one payment of {amount} from the buyer's wallet")
        if any(entry[3] != t["auction_id"] for kind in e.values() for entry in kind):
            v.append(f"trade {tid}: an escrow entry names another auction")
        if any(w != seller_wallet for w, *_ in releases):
            v.append(f"trade {tid}: a release went to a wallet that is not the seller's")
        if any(w != buyer_wallet for w, *_ in refunds):
            v.append(f"trade {tid}: a refund went to a wallet that is not the buyer's")
        released = sum(b for _, b, _, _ in releases)
        refunded = sum(b for _, b, _, _ in refunds)
        held = -sum(b + lk for _, b, lk, _ in ins) - released - refunded
        if status in Trade.OPEN_STATUSES:
            open_total += amount
            if releases or refunds or held != amount:
                v.append(f"trade {tid}: open ({status}) but escrow holds {held} of {amount} (paid out already)")
            continue
        expected = {
            Status.COMPLETED: (1, 0),
            Status.RELEASED: (1, 0),
            Status.REFUNDED: (0, 1),
            Status.SPLIT: (1, 1),
        }.get(status)
        if expected is None or (len(releases), len(refunds)) != expected:
            v.append(
                f"trade {tid}: status {status} but {len(releases)} "
                f"release(s) and {len(refunds)} refund(s) in the ledger"
            )
        if held != 0:
            v.append(f"trade {tid}: finished ({status}) but escrow still holds {held}")
        if (released, refunded) != (t["seller_payout"], t["buyer_refund"]):
            v.append(
                f"trade {tid}: ledger paid seller {released} / buyer {refunded} but the trade says "
                f"{t['seller_payout']} / {t['buyer_refund']}"
            )
        if status == Status.SPLIT and not (0 < refunded < amount):
            v.append(f"trade {tid}: a split must pay both sides part of {amount}, paid buyer {refunded}")
    for tid in set(entries) - seen:
        v.append(f"ledger: escrow entries for trade {tid}, which does not exist")
    return open_total
