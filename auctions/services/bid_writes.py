"""The writes of an accepted bid, in two forms that must write the same rows (tested side by
side in tests/auctions/test_bid_writers.py): one PostgreSQL statement of data-modifying CTEs
(the hot path: nothing compiled, one round trip under the lock) and the ORM (the embedded
SQLite default). Both take the `now` read under the lock; wallets and their ledger rows are
written by wallets.services only (wallet_moves_sql / wallet_postings_write)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from django.db import connection

from auctions.locks import BidAuction
from auctions.models import Auction, Bid
from auctions.services._base import auction_write
from auctions.services.bid_plan import BidPlan, bid_notices
from notifications.models import Notification
from wallets.services import wallet_moves_sql, wallet_postings_write


def _auto_request_id() -> str:
    return f"auto-{uuid.uuid4().hex}"


def bid_write_orm(auction: BidAuction, plan: BidPlan, *, request_id: str, now: datetime) -> tuple[int, list[int]]:
    """The writes of an accepted bid through the ORM (SQLite, the embedded default): the same
    rows as bid_write_sql, stamped with the same `now` (the clock read under the lock)."""
    if not isinstance(auction, Auction):  # the ORM path locks a model instance (auction_lock)
        raise TypeError("bid_write_orm needs the Auction locked by auctions.locks.auction_lock")
    bids = Bid.objects.bulk_create(
        [
            Bid(
                auction_id=auction.pk,
                bidder_id=row.bidder_id,
                amount=row.amount,
                max_amount=row.max_amount,
                kind=row.kind,
                client_request_id=request_id if index == 0 else _auto_request_id(),
                created_at=now,
            )
            for index, row in enumerate(plan.outcome.rows)
        ]
    )
    placed = (
        bids[0]
        if bids[0].pk is not None
        else Bid.objects.get(bidder_id=plan.outcome.rows[0].bidder_id, client_request_id=request_id)
    )
    wallet_postings_write(plan.postings, plan.final, now=now, auction_id=auction.pk, bid_id=placed.pk)
    note_ids = [
        Notification.objects.create(
            user_id=user_id, kind=kind, auction_id=auction.pk, message=message, created_at=now
        ).pk
        for user_id, kind, message, _extra in bid_notices(auction, plan)
    ]
    if plan.outcome.price_moved:
        auction.seq -= 1  # auction_write bumps it again
        auction_write(
            auction, "current_price", "leader", "leader_max", "bid_count", "recent_bids", "ends_at", "status", now=now
        )
    else:
        Auction.objects.filter(pk=auction.pk).update(leader_max=auction.leader_max, updated_at=now)
    return placed.pk, note_ids


_AUCTION_TABLE = Auction._meta.db_table
_BID_TABLE = Bid._meta.db_table
_NOTE_TABLE = Notification._meta.db_table


def bid_write_sql(auction: BidAuction, plan: BidPlan, *, request_id: str, now: datetime) -> tuple[int, list[int]]:
    """Every write of an accepted bid as ONE PostgreSQL statement (data-modifying CTEs): the
    bid rows (the placed one, then any automatic ones, ids in that order), the wallets and
    their ledger rows (wallets.services.wallet_moves_sql), the notifications and the auction's
    new state. Returns (the placed bid's id, the notification ids)."""
    rows = plan.outcome.rows
    values = ", ".join(["(%s::int, %s::bigint, %s::bigint, %s::bigint, %s, %s)"] * len(rows))
    ctes = [
        f"new_bids AS (INSERT INTO {_BID_TABLE} (auction_id, bidder_id, amount, max_amount, kind, "  # noqa: S608 (tables from meta)
        "client_request_id, created_at) SELECT %s, v.bidder_id, v.amount, v.max_amount, v.kind, v.request_id, %s "
        f"FROM (VALUES {values}) AS v(ord, bidder_id, amount, max_amount, kind, request_id) ORDER BY v.ord "
        "RETURNING id, client_request_id)",
        "placed AS (SELECT id FROM new_bids WHERE client_request_id = %s)",
    ]
    params: list[Any] = [auction.pk, now]
    for index, row in enumerate(rows):
        params += [
            index,
            row.bidder_id,
            row.amount,
            row.max_amount,
            row.kind,
            request_id if index == 0 else _auto_request_id(),
        ]
    params.append(request_id)
    if plan.postings:
        wallet_ctes, wallet_params = wallet_moves_sql(
            plan.postings, plan.final, now=now, auction_id=auction.pk, bid_cte="placed"
        )
        ctes += wallet_ctes
        params += wallet_params
    notes = bid_notices(auction, plan)
    if notes:
        note_rows = ", ".join(["(%s::int, %s::bigint, %s, %s)"] * len(notes))
        ctes.append(
            f"new_notes AS (INSERT INTO {_NOTE_TABLE} (user_id, kind, auction_id, message, created_at, read_at) "  # noqa: S608 (tables from meta)
            f"SELECT v.user_id, v.kind, %s, v.message, %s, NULL FROM (VALUES {note_rows}) "
            "AS v(ord, user_id, kind, message) ORDER BY v.ord RETURNING id)"
        )
        params += [auction.pk, now]
        for index, (user_id, kind, message, _extra) in enumerate(notes):
            params += [index, user_id, str(kind), message]
    ctes.append(
        f"auction_write AS (UPDATE {_AUCTION_TABLE} SET current_price = %s, leader_id = %s, leader_max = %s, "  # noqa: S608 (tables from meta)
        "bid_count = %s, recent_bids = %s::jsonb, ends_at = %s, status = %s, seq = %s, updated_at = %s WHERE id = %s)"
    )
    params += [
        auction.current_price,
        auction.leader_id,
        auction.leader_max,
        auction.bid_count,
        json.dumps(auction.recent_bids, ensure_ascii=False),
        auction.ends_at,
        auction.status,
        auction.seq,
        now,
        auction.pk,
    ]
    note_select = "(SELECT array_agg(id ORDER BY id) FROM new_notes)" if notes else "NULL"
    sql = "WITH " + ", ".join(ctes) + f" SELECT (SELECT id FROM placed), {note_select}"  # noqa: S608 (CTEs built above from meta)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        bid_id, note_ids = cursor.fetchone()
    return bid_id, list(note_ids or [])
