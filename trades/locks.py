"""Row lock for trades. A trade step locks the trade first, then the wallets by primary key
(wallets.locks.wallets_lock); it never takes an auction lock, so it cannot wait in a cycle
with a bid or a settlement (those lock the auction, then wallets, and create the trade row)."""

from __future__ import annotations

from neighborbid.errors import TradeNotFound
from trades.models import Trade


def trade_lock(*, trade_id: int, skip_locked: bool = False) -> Trade | None:
    """Return the locked trade row. With skip_locked, None when another transaction holds it
    (the worker), or when it does not exist. Must be called inside transaction.atomic()."""
    trade = Trade.objects.select_for_update(skip_locked=skip_locked, of=("self",)).filter(pk=trade_id).first()
    if trade is None and not skip_locked:
        raise TradeNotFound()
    return trade
