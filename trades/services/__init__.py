"""Trade services: the buyer's money in escrow after the hammer, and its one payout.

State machine (docs/architecture.md has the table with the money of each step):

    awaiting_handover ─ seller marks handed over (local) ─▶ handed_over ─┐
          │          └ seller marks shipped (national) ─▶ shipped ──────┤
          │                                                              ├ buyer confirms / N days ─▶ completed
          ├ buyer confirms (received without a mark) ─▶ completed        │
          ├ N+3 days unmarked (worker) ─▶ refunded                       │
          ├ seller refunds (any open state, also disputed) ─▶ refunded   │
          └ buyer opens a dispute (any open state but disputed) ─▶ disputed ─ moderator ─▶ refunded | released | split

Every step locks the trade row first (trades.locks.trade_lock; the worker with SKIP LOCKED),
then the wallets by primary key, re-reads the state under the lock and raises a DomainError
before writing anything when the step is not allowed. Money moves only through
wallets.services.wallet_moves_apply: `trade_escrow` in (at the sale, inside the auction's
transaction), then exactly one payout: `trade_release` to the seller, `trade_refund` to the
buyer, or one of each (a moderator's split) summing to the amount.
"""

from trades.services._common import RESOLVE, confirm_days, unmarked_days
from trades.services.disputes import trade_dispute_resolve
from trades.services.release import trade_auto_release, trades_auto_release_due
from trades.services.steps import (
    trade_confirm,
    trade_dispute_open,
    trade_mark_handed_over,
    trade_mark_shipped,
    trade_open,
    trade_refund,
)

__all__ = [
    "RESOLVE",
    "confirm_days",
    "trade_auto_release",
    "trade_confirm",
    "trade_dispute_open",
    "trade_dispute_resolve",
    "trade_mark_handed_over",
    "trade_mark_shipped",
    "trade_open",
    "trade_refund",
    "trades_auto_release_due",
    "unmarked_days",
]
