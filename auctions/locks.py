"""Row locks for auctions. Lock order everywhere: the auction first, then wallets by pk
(wallets.locks.wallets_lock). Must be called inside transaction.atomic()."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol, cast, overload

from django.db import connection
from django.db.models import Field

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


class BidAuction(Protocol):
    """The locked auction as the bid's rules, plan and writers see it: an Auction on the ORM
    path (auction_lock, the embedded SQLite default) or a LockedAuction on the hot path
    (auction_row_lock). What they read and write, typed once."""

    pk: Any
    seller_id: Any
    title: str
    status: str
    end_reason: str
    is_hidden: bool
    is_national: bool
    neighbourhood_id: Any
    starts_at: datetime
    ends_at: datetime
    original_ends_at: datetime
    current_price: int
    buy_now_price: int | None
    leader_id: Any
    leader_max: int | None
    bid_count: int
    recent_bids: Any
    seq: int
    soft_close_window_s: int
    soft_close_extension_s: int
    soft_close_cap_s: int
    min_manner_temperature: Decimal | None
    log_seq: int
    log_head: str
    log_salt: str


@dataclass(slots=True)
class LockedAuction:
    """The columns of a locked auction that the bid's rules read and write, without a model
    instance (the hot path). Quacks like Auction for the guards in auctions.services._base and
    auctions.selectors.auction_public_state."""

    pk: int
    seller_id: int
    title: str
    status: str
    end_reason: str
    is_hidden: bool
    is_national: bool
    neighbourhood_id: int | None
    starts_at: datetime
    ends_at: datetime
    original_ends_at: datetime
    current_price: int
    buy_now_price: int | None
    leader_id: int | None
    leader_max: int | None
    bid_count: int
    recent_bids: list
    seq: int
    soft_close_window_s: int
    soft_close_extension_s: int
    soft_close_cap_s: int
    min_manner_temperature: Decimal | None
    log_seq: int
    log_head: str
    log_salt: str
    # The leader's nickname (or username), read with the row; None when the row changed while
    # the lock was awaited (the joined user row is not re-read then: see bidding._leader_name).
    leader_name: str | None

    @property
    def id(self) -> int:
        return self.pk


_LOCKED_COLUMNS = [
    f.name if f.name == "id" else cast("Field[Any, Any]", f).attname
    for f in (
        Auction._meta.get_field(name)
        for name in (
            "id",
            "seller",
            "title",
            "status",
            "end_reason",
            "is_hidden",
            "is_national",
            "neighbourhood",
            "starts_at",
            "ends_at",
            "original_ends_at",
            "current_price",
            "buy_now_price",
            "leader",
            "leader_max",
            "bid_count",
            "recent_bids",
            "seq",
            "soft_close_window_s",
            "soft_close_extension_s",
            "soft_close_cap_s",
            "min_manner_temperature",
            "log_seq",
            "log_head",
            "log_salt",
        )
    )
]
_USER_TABLE = Auction._meta.get_field("leader").related_model._meta.db_table


# The select list of a LockedAuction (the auction `a` joined to its leader `u`), for a caller
# that reads it inside a larger statement (the compare-and-set bid's one read).
LOCKED_SELECT = f"{', '.join('a.' + c for c in _LOCKED_COLUMNS)}, COALESCE(NULLIF(u.nickname, ''), u.username)"
LOCKED_JOIN_LEADER = f"LEFT JOIN {_USER_TABLE} u ON u.id = a.leader_id"
_ROW_SQL = f"SELECT {LOCKED_SELECT} FROM {Auction._meta.db_table} a {LOCKED_JOIN_LEADER} WHERE a.id = %s"  # noqa: S608 (meta)


def locked_auction(row: Any) -> LockedAuction:
    """A LockedAuction from the values of LOCKED_SELECT, in order."""
    values = list(row)
    recent = values[16]
    values[16] = json.loads(recent) if isinstance(recent, str) else list(recent or [])
    return LockedAuction(*values)


def auction_row_lock(*, auction_id: int, for_update: bool = True) -> LockedAuction:
    """auction_lock as one plain statement (PostgreSQL; the bid's hot path): the same row lock,
    no ORM compile, no model instance. Raises AuctionNotFound."""
    with connection.cursor() as cursor:
        cursor.execute(_ROW_SQL + (" FOR UPDATE OF a" if for_update else ""), [auction_id])
        row = cursor.fetchone()
    if row is None:
        raise AuctionNotFound()
    return locked_auction(row)
