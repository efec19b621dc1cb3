"""Row locks for auctions. Lock order everywhere: the auction first, then wallets by pk
(wallets.locks.wallets_lock). Must be called inside transaction.atomic()."""

from __future__ import annotations

from typing import Literal, overload

from auctions.models import Auction
from neighborbid.errors import AuctionNotFound


@overload
def auction_lock(*, auction_id: int, skip_locked: Literal[False] = False) -> Auction: ...
@overload
def auction_lock(*, auction_id: int, skip_locked: bool) -> Auction | None: ...
def auction_lock(*, auction_id: int, skip_locked: bool = False) -> Auction | None:
    """Return the locked auction row. With skip_locked, None when another transaction holds it
    (the settlement worker uses this so several workers never settle one auction twice)."""
    qs = Auction.objects.select_for_update(skip_locked=skip_locked).filter(pk=auction_id)
    auction = qs.first()
    if auction is None and not skip_locked:
        raise AuctionNotFound()
    return auction
