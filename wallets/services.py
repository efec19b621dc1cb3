"""Wallet services: the only code that changes `balance` and `locked_balance`.

Every change writes exactly one immutable LedgerEntry per movement. The public
`wallet_deposit`, `wallet_withdraw` and `wallet_adjust` open their own transaction and lock the
wallet. The auction and trade services describe escrow movements with `Move.hold / release /
escrow_in / escrow_release / escrow_refund` (`capture / credit` are the pre-trade sale kinds)
and apply them together with `wallet_moves_apply`: they must be inside `transaction.atomic()`
and already hold the row locks (auction or trade first, then wallets by pk).
This module knows nothing about auction or trade rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.selectors import access_staff, access_user
from neighborbid.errors import (
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    LimitExceeded,
    PermissionDenied,
)
from neighborbid.logs import money_action
from wallets.locks import wallets_lock
from wallets.models import LedgerEntry, Wallet

if TYPE_CHECKING:
    from accounts.models import User
    from auctions.models import Auction, Bid  # for the annotations only: wallets imports nothing from auctions
    from trades.models import Trade  # (nor from trades)

logger = logging.getLogger("neighborbid.money")
Kind = LedgerEntry.Kind


def _limits() -> dict[str, Any]:
    return settings.NEIGHBORBID


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidAmount()


@dataclass(frozen=True)
class Move:
    """One movement of one locked wallet, not yet applied."""

    wallet: Wallet
    kind: str
    balance_delta: int = 0
    locked_delta: int = 0
    auction: Auction | None = None
    bid: Bid | None = None
    staff_user: User | None = None
    memo: str = ""
    trade: Trade | None = None
    request_id: str | None = None  # a top-up's or withdrawal's client request id (LedgerEntry.client_request_id)

    @classmethod
    def hold(cls, wallet: Wallet, *, amount: int, auction: Auction, bid: Bid | None = None) -> Move:
        """balance → locked for a bid."""
        _check_amount(amount)
        return cls(wallet, Kind.BID_HOLD, -amount, amount, auction, bid)

    @classmethod
    def release(cls, wallet: Wallet, *, amount: int, auction: Auction, bid: Bid | None = None) -> Move:
        """locked → balance (outbid, cancelled, bought by someone else)."""
        _check_amount(amount)
        return cls(wallet, Kind.HOLD_RELEASE, amount, -amount, auction, bid)

    @classmethod
    def capture(cls, wallet: Wallet, *, held: int, extra: int = 0, auction: Auction) -> Move:
        """Pay for a won item: `held` leaves locked, `extra` (if any) leaves balance."""
        if held < 0 or extra < 0 or held + extra <= 0:
            raise InvalidAmount()
        return cls(wallet, Kind.PURCHASE, -extra, -held, auction)

    @classmethod
    def credit(cls, wallet: Wallet, *, amount: int, auction: Auction) -> Move:
        """Sale proceeds to the seller (before trades: history only, no new sale uses it)."""
        _check_amount(amount)
        return cls(wallet, Kind.SALE_PROCEEDS, amount, 0, auction)

    # --- trades: the buyer's money waits in the trade's escrow (in no wallet) until it is paid
    # out once: to the seller, back to the buyer, or split. `trade` is the trades.Trade row
    # (passed through, like `auction`: this module imports neither app).

    @classmethod
    def escrow_in(cls, wallet: Wallet, *, held: int, extra: int = 0, auction: Auction, trade: Trade) -> Move:
        """The buyer pays into the trade's escrow: `held` leaves locked, `extra` leaves balance."""
        if held < 0 or extra < 0 or held + extra <= 0:
            raise InvalidAmount()
        return cls(wallet, Kind.TRADE_ESCROW, -extra, -held, auction, trade=trade)

    @classmethod
    def escrow_release(
        cls,
        wallet: Wallet,
        *,
        amount: int,
        auction: Auction,
        trade: Trade,
        staff_user: User | None = None,
        memo: str = "",
    ) -> Move:
        """Escrow → the seller's balance (구매확정, automatic release, or a moderator's decision)."""
        _check_amount(amount)
        return cls(wallet, Kind.TRADE_RELEASE, amount, 0, auction, staff_user=staff_user, memo=memo, trade=trade)

    @classmethod
    def escrow_refund(
        cls,
        wallet: Wallet,
        *,
        amount: int,
        auction: Auction,
        trade: Trade,
        staff_user: User | None = None,
        memo: str = "",
    ) -> Move:
        """Escrow → the buyer's balance (the seller refunds, a timeout, or a moderator's decision)."""
        _check_amount(amount)
        return cls(wallet, Kind.TRADE_REFUND, amount, 0, auction, staff_user=staff_user, memo=memo, trade=trade)


@dataclass(frozen=True)
class Posting:
    """One ledger row to write, with the wallet's balances after it (computed by the plan)."""

    wallet_id: int
    kind: str
    balance_delta: int
    locked_delta: int
    balance_after: int
    locked_after: int
    move: Move


def wallet_moves_plan(*moves: Move) -> tuple[list[Posting], list[tuple[int, int, int]]]:
    """The money rule of every movement, without writing: the new balances of each locked
    wallet (refusing anything that would go negative), one posting per movement, and the final
    (wallet id, balance, locked) of each wallet touched. Updates the wallet objects in place.
    Used by wallet_moves_apply (ORM writes) and by the bid's one-statement write
    (wallet_moves_sql).

    No ceiling here, on purpose: WALLET_MAX bounds what a user puts in (wallet_deposit, the one
    place it is checked), not what the market owes them. A release, refund or split is paid in
    full whatever the balance (refusing it would strand escrow; capping it would lose money)."""
    postings: list[Posting] = []
    touched: dict[int, Any] = {}
    for move in moves:
        wallet = move.wallet
        new_balance = wallet.balance + move.balance_delta
        new_locked = wallet.locked_balance + move.locked_delta
        if new_balance < 0:
            raise InsufficientFunds()
        if new_locked < 0:  # a programming error, never a user error
            raise AssertionError(f"locked balance of wallet {wallet.pk} would go negative")
        wallet.balance, wallet.locked_balance = new_balance, new_locked
        touched[wallet.pk] = wallet
        postings.append(
            Posting(wallet.pk, move.kind, move.balance_delta, move.locked_delta, new_balance, new_locked, move)
        )
    return postings, [(w.pk, w.balance, w.locked_balance) for w in touched.values()]


def wallet_moves_apply(*moves: Move) -> list[LedgerEntry]:
    """Apply movements to locked wallets: the single write path of the money.

    The new balances are computed by wallet_moves_plan, written with one UPDATE per wallet
    (pipelined), and recorded with one INSERT of ledger entries (each with the balances after
    it). Caller: inside transaction.atomic(), holding the wallets' row locks."""
    postings, final = wallet_moves_plan(*moves)
    if not postings:
        return []
    now = timezone.now()
    _wallets_write(final, now=now)
    for posting in postings:
        posting.move.wallet.updated_at = now
    return LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                wallet=p.move.wallet,
                kind=p.kind,
                balance_delta=p.balance_delta,
                locked_delta=p.locked_delta,
                balance_after=p.balance_after,
                locked_after=p.locked_after,
                auction=p.move.auction,
                bid=p.move.bid,
                staff_user=p.move.staff_user,
                trade=p.move.trade,
                memo=(p.move.memo or "")[:200],
                client_request_id=p.move.request_id,
            )
            for p in postings
        ]
    )


def wallet_postings_write(
    postings: list[Posting], final: list[tuple[int, int, int]], *, now: datetime, auction_id: int, bid_id: int
) -> None:
    """The bid's ORM twin of wallet_moves_sql (the embedded SQLite default): the wallets' new
    balances and one ledger row per posting, stamped `now` and naming the auction and the bid.
    The same rows as the SQL form (tests/auctions/test_bid_writers.py compares them)."""
    if final:
        _wallets_write(final, now=now)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                wallet_id=p.wallet_id,
                kind=p.kind,
                balance_delta=p.balance_delta,
                locked_delta=p.locked_delta,
                balance_after=p.balance_after,
                locked_after=p.locked_after,
                auction_id=auction_id,
                bid_id=bid_id,
                created_at=now,
            )
            for p in postings
        ]
    )


def wallet_moves_sql(
    postings: list[Posting],
    final: list[tuple[int, int, int]],
    *,
    now: datetime,
    auction_id: int,
    bid_cte: str,
    gate: str = "TRUE",
) -> tuple[list[str], list[object]]:
    """The same writes as wallet_moves_apply, as two data-modifying CTEs for one PostgreSQL
    statement (the bid's hot path: no ORM compile while the auction row is locked). `bid_cte`
    names a CTE of the caller's statement that returns the new bid's `id`; `gate` is an SQL
    condition of that statement the wallet write also needs (the bid's compare-and-set:
    auctions.services.bid_writes). Returns the CTE texts and their parameters, in order.
    PostgreSQL only."""
    wallet_table, ledger_table = Wallet._meta.db_table, LedgerEntry._meta.db_table
    rows = ", ".join(["(%s::bigint, %s::bigint, %s::bigint)"] * len(final))
    wallet_cte = (
        f"wallet_write AS (UPDATE {wallet_table} AS w SET balance = v.balance, locked_balance = v.locked, "  # noqa: S608 (tables from meta)
        f"updated_at = %s FROM (VALUES {rows}) AS v(id, balance, locked) WHERE w.id = v.id AND {gate})"
    )
    entries = ", ".join(["(%s::bigint, %s, %s::bigint, %s::bigint, %s::bigint, %s::bigint)"] * len(postings))
    ledger_cte = (
        f"ledger_write AS (INSERT INTO {ledger_table} (wallet_id, kind, balance_delta, locked_delta, "  # noqa: S608 (tables from meta)
        "balance_after, locked_after, auction_id, bid_id, staff_user_id, memo, created_at) "
        f"SELECT v.wallet_id, v.kind, v.bd, v.ld, v.ba, v.la, %s, {bid_cte}.id, NULL, '', %s "
        f"FROM {bid_cte}, (VALUES {entries}) AS v(wallet_id, kind, bd, ld, ba, la))"
    )
    params: list[object] = [now]
    for wallet_id, balance, locked in final:
        params += [wallet_id, balance, locked]
    params += [auction_id, now]
    for p in postings:
        params += [p.wallet_id, p.kind, p.balance_delta, p.locked_delta, p.balance_after, p.locked_after]
    return [wallet_cte, ledger_cte], params


_WALLET_UPDATE: str | None = None


def _wallets_write(final: list[tuple[int, int, int]], *, now: datetime) -> None:
    """One plain UPDATE per wallet, sent together (psycopg pipelines executemany: one round
    trip). Plain SQL on purpose: this runs under the auction's row lock on every bid, and the
    ORM's CASE/WHEN form of the same write cost ~1 ms of Python here (docs/benchmarks.md)."""
    global _WALLET_UPDATE
    if _WALLET_UPDATE is None:
        meta = Wallet._meta
        # A concrete field always has a column; django-stubs types Field.column as `str | None`.
        column = {f.name: connection.ops.quote_name(f.column) for f in meta.concrete_fields}  # type: ignore[arg-type]
        table = connection.ops.quote_name(meta.db_table)
        _WALLET_UPDATE = (  # names from the model's own meta, values bound
            f"UPDATE {table} SET {column['balance']} = %s, {column['locked_balance']} = %s, "  # noqa: S608
            f"{column['updated_at']} = %s WHERE {column['id']} = %s"
        )
    stamp = connection.ops.adapt_datetimefield_value(now)
    rows = [(balance, locked, stamp, wallet_id) for wallet_id, balance, locked in final]
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(_WALLET_UPDATE, rows[0])
        else:
            cursor.executemany(_WALLET_UPDATE, rows)


def _apply(
    wallet: Wallet,
    *,
    kind: str,
    balance_delta: int = 0,
    staff_user: User | None = None,
    memo: str = "",
    request_id: str | None = None,
) -> LedgerEntry:
    (entry,) = wallet_moves_apply(
        Move(wallet, kind, balance_delta, 0, staff_user=staff_user, memo=memo, request_id=request_id)
    )
    return entry


def _check_request_id(request_id: str | None) -> None:
    """The same shape as a bid's request id (auctions.services._base.check_request_id)."""
    if request_id is None:
        return
    if not isinstance(request_id, str) or not (1 <= len(request_id) <= 64) or not request_id.isprintable():
        raise InvalidRequest("요청 번호가 올바르지 않아요.")


def _replayed(wallet: Wallet, *, request_id: str | None, kind: str, balance_delta: int) -> LedgerEntry | None:
    """The entry an earlier request with this id wrote (the caller holds the wallet's lock, so a
    twin cannot slip in between): the same request again answers with it; the same id for
    another kind or amount is refused (DuplicateRequest), nothing moved."""
    if request_id is None:
        return None
    earlier = LedgerEntry.objects.filter(wallet=wallet, client_request_id=request_id).first()
    if earlier is None:
        return None
    if earlier.kind != kind or earlier.balance_delta != balance_delta:
        raise DuplicateRequest()
    return earlier


def wallet_create(*, user: User) -> Wallet:
    """The user's one wallet; called by accounts.services.user_create in its transaction."""
    return Wallet.objects.create(user=user)


def _lock_one(user_id: int) -> Wallet:
    return wallets_lock(user_ids=[user_id])[user_id]


@money_action("deposit")
def wallet_deposit(*, actor: User, amount: int, memo: str = "", request_id: str | None = None) -> LedgerEntry:
    """Simulated top-up (no payment gateway): DEPOSIT_MIN..DEPOSIT_MAX per top-up and a
    ceiling of WALLET_MAX available balance. With a `request_id`, idempotent: the same id and
    amount again returns the first entry (nothing moves twice); the same id with another
    amount, or the id of a withdrawal, is DuplicateRequest."""
    _check_amount(amount)
    _check_request_id(request_id)
    limits = _limits()
    if amount < limits["DEPOSIT_MIN"] or amount > limits["DEPOSIT_MAX"]:
        raise LimitExceeded(
            f"충전은 한 번에 {limits['DEPOSIT_MIN']:,}원 이상 {limits['DEPOSIT_MAX']:,}원 이하로 할 수 있어요."
        )
    user = access_user(actor, allow_suspended=True)  # topping up harms nobody
    with transaction.atomic():
        wallet = _lock_one(user.pk)
        earlier = _replayed(wallet, request_id=request_id, kind=Kind.DEPOSIT, balance_delta=amount)
        if earlier is not None:
            return earlier
        if wallet.balance + amount > limits["WALLET_MAX"]:
            raise LimitExceeded(f"지갑 잔액은 {limits['WALLET_MAX']:,}원을 넘을 수 없어요.")
        entry = _apply(wallet, kind=Kind.DEPOSIT, balance_delta=amount, memo=memo, request_id=request_id)
    return entry


@money_action("withdraw")
def wallet_withdraw(*, actor: User, amount: int, request_id: str | None = None) -> LedgerEntry:
    """Take money out of the available balance (from WITHDRAW_MIN). With a `request_id`,
    idempotent like wallet_deposit."""
    _check_amount(amount)
    _check_request_id(request_id)
    user = access_user(actor, allow_suspended=True)  # a suspended user may take their money out
    if amount < _limits()["WITHDRAW_MIN"]:
        raise LimitExceeded(f"출금은 {_limits()['WITHDRAW_MIN']:,}원 이상부터 할 수 있어요.")
    with transaction.atomic():
        wallet = _lock_one(user.pk)
        earlier = _replayed(wallet, request_id=request_id, kind=Kind.WITHDRAWAL, balance_delta=-amount)
        if earlier is not None:
            return earlier
        if wallet.balance < amount:
            raise InsufficientFunds("출금 가능한 잔액이 부족해요. 입찰 중인 금액은 출금할 수 없어요.")
        entry = _apply(wallet, kind=Kind.WITHDRAWAL, balance_delta=-amount, request_id=request_id)
    return entry


@money_action("adjust")
def wallet_adjust(*, user: User, amount: int, staff_user: User, reason: str) -> LedgerEntry:
    """A manual correction by staff (positive or negative) of `user`'s wallet, with a
    mandatory reason. The acting staff user is re-read (a suspended moderator has no powers)."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
        raise InvalidAmount("정정 금액은 0이 아닌 정수(원)여야 해요.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("정정 사유를 입력해 주세요.")
    staff = access_staff(staff_user, perm="wallets.adjust_wallet", message="지갑 정정 권한이 없어요.")
    if staff.pk == user.pk:
        raise PermissionDenied("본인 지갑은 정정할 수 없어요. 다른 운영자에게 요청해 주세요.")
    with transaction.atomic():
        wallet = _lock_one(user.pk)
        entry = _apply(wallet, kind=Kind.ADJUSTMENT, balance_delta=amount, staff_user=staff, memo=reason)
    return entry
