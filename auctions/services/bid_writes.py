"""The writes of an accepted bid, in two forms that must write the same rows (tested side by
side in tests/auctions/test_bid_writers.py): one PostgreSQL statement of data-modifying CTEs
(the hot path: nothing compiled, one round trip under the lock) and the ORM (the embedded
SQLite default). Both take the `now` read under the lock; wallets and their ledger rows are
written by wallets.services only (wallet_moves_sql / wallet_postings_write)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from auctions.locks import BidAuction
from auctions.models import Auction, Bid, BidLogLeaf
from auctions.services._base import auction_write, log_leaves_write
from auctions.services.bid_plan import BidPlan, bid_notices
from neighborbid.db.statements import execute_repeated
from notifications.models import Notification
from wallets.models import Wallet
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
    log_leaves_write(auction.pk, plan.leaves, now=now)
    if plan.outcome.price_moved:
        auction.seq -= 1  # auction_write bumps it again
        auction_write(
            auction,
            "current_price",
            "leader",
            "leader_max",
            "bid_count",
            "recent_bids",
            "ends_at",
            "status",
            "log_seq",
            "log_head",
            now=now,
        )
    else:
        Auction.objects.filter(pk=auction.pk).update(leader_max=auction.leader_max, updated_at=now)
    return placed.pk, note_ids


# How far a busy auction's sort keys (Auction.sort_price / sort_bids) may trail its bids
# before a bid refreshes them; the worker refreshes the ones no later bid did.
SORT_KEYS_MAX_AGE = timedelta(seconds=1)

_AUCTION_TABLE = Auction._meta.db_table
_BID_TABLE = Bid._meta.db_table
_NOTE_TABLE = Notification._meta.db_table
_WALLET_TABLE = Wallet._meta.db_table
_LEAF_TABLE = BidLogLeaf._meta.db_table


@dataclass(frozen=True)
class BidExpect:
    """What a compare-and-set bid decided on (auctions.services.bidding._bid_cas): the auction's
    columns the rules read that any write changes (`CAS_COLUMNS`, in that order, as read) and
    each touched wallet's (balance, locked_balance) as read, by wallet id."""

    auction: tuple[Any, ...]
    wallets: dict[int, tuple[int, int]]

    @classmethod
    def of(cls, auction: BidAuction, *, updated_at: datetime | None, wallets: dict[int, Any]) -> BidExpect:
        """What a plan is about to be decided on: the auction's CAS_COLUMNS (its `updated_at` as
        read, the model-less row has none) and every wallet's numbers, before the plan moves them."""
        return cls(
            auction=tuple(
                updated_at if name == "updated_at" else getattr(auction, name) for name, _kind in CAS_COLUMNS
            ),
            wallets={row.pk: (row.balance, row.locked_balance) for row in wallets.values()},
        )


@dataclass(frozen=True)
class CasConflict:
    """A compare-and-set write that wrote nothing. `seen`: the auction as the write statement's
    own snapshot had it (taken when the statement began, so newer than the bid's read when
    another write committed in between), with this bidder's bid of the same request id in
    that snapshot (None: none). A plain read, never the locked row's newer version. All None
    if the auction row is gone."""

    seq: int | None
    status: str | None
    current_price: int | None
    leader_id: int | None
    earlier_id: int | None


# The auction columns a compare-and-set bid must find unchanged: everything the rules read that
# a write can change (seq moves with every public change, updated_at with every write at all,
# including a maximum raise and any admin edit).
CAS_COLUMNS = (
    ("seq", "bigint"),
    ("status", "varchar"),
    ("leader_id", "bigint"),
    ("leader_max", "bigint"),
    ("current_price", "bigint"),
    ("ends_at", "timestamptz"),
    ("is_hidden", "boolean"),
    ("buy_now_price", "bigint"),
    ("updated_at", "timestamptz"),
)


def cas_auction_unchanged(expect: BidExpect) -> tuple[str, list[Any]]:
    """The compare half of the compare-and-set on the auction row: its CAS_COLUMNS are what the
    plan was decided on. (The race tests replace it with TRUE and watch the books break.)"""
    columns = ", ".join(name for name, _kind in CAS_COLUMNS)
    values = ", ".join(f"%s::{kind}" for _name, kind in CAS_COLUMNS)
    return f"({columns}) IS NOT DISTINCT FROM ({values})", list(expect.auction)


def cas_wallets_unchanged(expect: BidExpect, touched: list[int]) -> tuple[str, list[Any]]:
    """The compare half on the wallets: every touched wallet, as locked by the statement, still
    holds the (balance, locked_balance) the plan assumed."""
    if not touched:
        return "TRUE", []
    rows = ", ".join(["(%s::bigint, %s::bigint, %s::bigint)"] * len(touched))
    params: list[Any] = []
    for wallet_id in touched:
        params += [wallet_id, *expect.wallets[wallet_id]]
    sql = (
        f"(SELECT count(*) FROM cas_wallets c JOIN (VALUES {rows}) AS v(id, balance, locked) "  # noqa: S608 (placeholders)
        "ON c.id = v.id AND c.balance = v.balance AND c.locked_balance = v.locked) = %s"
    )
    return sql, [*params, len(touched)]


def bid_write_sql(
    auction: BidAuction, plan: BidPlan, *, request_id: str, now: datetime, expect: BidExpect | None = None
) -> tuple[int, list[int]] | CasConflict:
    """bid_write_statement, run (its one row read by bid_write_outcome)."""
    sql, params = bid_write_statement(auction, plan, request_id=request_id, now=now, expect=expect)
    return bid_write_outcome(execute_repeated(sql, params))


def bid_write_outcome(row: tuple[Any, ...] | None) -> tuple[int, list[int]] | CasConflict:
    """The one row of bid_write_statement: (the placed bid's id, the notification ids), or the
    CasConflict of a compare-and-set write that wrote nothing."""
    ok, bid_id, note_ids, *conflict = row  # type: ignore[misc]  # a SELECT: always one row
    if not ok:
        return CasConflict(*conflict)
    return bid_id, list(note_ids or [])


def bid_write_statement(
    auction: BidAuction, plan: BidPlan, *, request_id: str, now: datetime, expect: BidExpect | None = None
) -> tuple[str, list[Any]]:
    """Every write of an accepted bid as ONE PostgreSQL statement (data-modifying CTEs): the
    bid rows (the placed one, then any automatic ones, ids in that order), the wallets and
    their ledger rows (wallets.services.wallet_moves_sql), the notifications and the auction's
    new state, with its parameters; its one row (bid_write_outcome) is (the placed bid's id,
    the notification ids).

    With `expect` (the compare-and-set bid, run in autocommit) the statement first locks the
    auction row only if its CAS_COLUMNS are still what the plan was decided on, then the
    touched wallets in primary-key order (the lock order of every other writer), and every
    write is gated on one condition: the auction was found unchanged and every wallet still
    holds the balances the plan assumed. The row locks live for this one statement. When
    anything changed it writes nothing and returns a CasConflict with the auction as the
    statement's snapshot saw it (read only then: a scalar subquery in the unchosen branch of a
    CASE never runs): the caller decides again, or refuses from it when it shows the bid
    overtaken (bidding._refuse_if_overtaken)."""
    rows = plan.outcome.rows
    ctes: list[str] = []
    params: list[Any] = []
    gate = "TRUE"
    if expect is not None:
        touched = [wallet_id for wallet_id, _balance, _locked in plan.final]
        auction_unchanged, auction_params = cas_auction_unchanged(expect)
        wallets_unchanged, wallet_params = cas_wallets_unchanged(expect, touched)
        ctes += [
            f"cas_auction AS (SELECT id FROM {_AUCTION_TABLE} WHERE id = %s AND {auction_unchanged} FOR UPDATE)",  # noqa: S608 (tables from meta)
            f"cas_wallets AS (SELECT w.id, w.balance, w.locked_balance FROM {_WALLET_TABLE} w "  # noqa: S608 (tables from meta)
            "WHERE w.id = ANY(%s::bigint[]) AND EXISTS (SELECT 1 FROM cas_auction) ORDER BY w.id FOR UPDATE)",
            f"cas_ok AS (SELECT EXISTS (SELECT 1 FROM cas_auction) AND {wallets_unchanged} AS ok)",  # noqa: S608
        ]
        params += [auction.pk, *auction_params, touched, *wallet_params]
        gate = "(SELECT ok FROM cas_ok)"
    values = ", ".join(["(%s::int, %s::bigint, %s::bigint, %s::bigint, %s, %s)"] * len(rows))
    ctes += [
        f"new_bids AS (INSERT INTO {_BID_TABLE} (auction_id, bidder_id, amount, max_amount, kind, "  # noqa: S608 (tables from meta)
        "client_request_id, created_at) SELECT %s, v.bidder_id, v.amount, v.max_amount, v.kind, v.request_id, %s "
        f"FROM (VALUES {values}) AS v(ord, bidder_id, amount, max_amount, kind, request_id) WHERE {gate} "
        "ORDER BY v.ord RETURNING id, client_request_id)",
        "placed AS (SELECT id FROM new_bids WHERE client_request_id = %s)",
    ]
    params += [auction.pk, now]
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
            plan.postings, plan.final, now=now, auction_id=auction.pk, bid_cte="placed", gate=gate
        )
        ctes += wallet_ctes
        params += wallet_params
    notes = bid_notices(auction, plan)
    if notes:
        note_rows = ", ".join(["(%s::int, %s::bigint, %s, %s)"] * len(notes))
        ctes.append(
            f"new_notes AS (INSERT INTO {_NOTE_TABLE} (user_id, kind, auction_id, message, created_at, read_at) "  # noqa: S608 (tables from meta)
            f"SELECT v.user_id, v.kind, %s, v.message, %s, NULL FROM (VALUES {note_rows}) "
            f"AS v(ord, user_id, kind, message) WHERE {gate} ORDER BY v.ord RETURNING id)"
        )
        params += [auction.pk, now]
        for index, (user_id, kind, message, _extra) in enumerate(notes):
            params += [index, user_id, str(kind), message]
    if plan.leaves:
        leaf_rows = ", ".join(["(%s::int, %s, %s, %s)"] * len(plan.leaves))
        ctes.append(
            f"new_leaves AS (INSERT INTO {_LEAF_TABLE} (auction_id, seq, kind, body, hash, created_at) "  # noqa: S608 (tables from meta)
            f"SELECT %s, v.seq, v.kind, v.body, v.hash, %s FROM (VALUES {leaf_rows}) AS v(seq, kind, body, hash) "
            f"WHERE {gate})"
        )
        params += [auction.pk, now]
        for leaf in plan.leaves:
            params += [leaf.seq, leaf.kind, leaf.body, leaf.hash]
    # The lists' sort keys follow the price and bid count when they are SORT_KEYS_MAX_AGE
    # old (or never set); inside that, they stay and the row is marked for the worker, so
    # most bids on a busy auction change no indexed column (a HOT update, migration 0018).
    # Every SET reads the row as it was before this update.
    follow = "(sort_at IS NULL OR sort_at <= %s)"
    ctes.append(
        f"auction_write AS (UPDATE {_AUCTION_TABLE} SET current_price = %s, leader_id = %s, leader_max = %s, "  # noqa: S608 (tables from meta)
        "bid_count = %s, recent_bids = %s::jsonb, ends_at = %s, status = %s, seq = %s, updated_at = %s, "
        f"log_seq = %s, log_head = %s, sort_price = CASE WHEN {follow} THEN %s ELSE sort_price END, "
        f"sort_bids = CASE WHEN {follow} THEN %s ELSE sort_bids END, "
        f"sort_stale = CASE WHEN {follow} THEN false ELSE (sort_price <> %s OR sort_bids <> %s) END, "
        f"sort_at = CASE WHEN {follow} THEN %s ELSE sort_at END WHERE id = %s AND {gate})"
    )
    due = now - SORT_KEYS_MAX_AGE
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
        auction.log_seq,
        auction.log_head,
        due,
        auction.current_price,
        due,
        auction.bid_count,
        due,
        auction.current_price,
        auction.bid_count,
        due,
        now,
        auction.pk,
    ]
    note_select = "(SELECT array_agg(id ORDER BY id) FROM new_notes)" if notes else "NULL"
    seen = ""
    if expect is not None:
        ctes.append(
            f"seen AS (SELECT a.seq, a.status, a.current_price, a.leader_id, (SELECT b.id FROM {_BID_TABLE} b "  # noqa: S608 (tables from meta)
            f"WHERE b.bidder_id = %s AND b.client_request_id = %s) AS earlier FROM {_AUCTION_TABLE} a WHERE a.id = %s)"
        )
        params += [rows[0].bidder_id, request_id, auction.pk]
        seen = "".join(
            f", CASE WHEN {gate} THEN NULL ELSE (SELECT {column} FROM seen) END"  # noqa: S608 (names from this list)
            for column in ("seq", "status", "current_price", "leader_id", "earlier")
        )
    sql = "WITH " + ", ".join(ctes) + f" SELECT {gate}, (SELECT id FROM placed), {note_select}{seen}"  # noqa: S608 (CTEs built above from meta)
    return sql, params
