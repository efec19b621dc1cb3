"""Bidding: a bid and buy-now, the only ways money enters escrow for an auction.

Idempotent by the client's request id; the rules run under the auction's row lock (then the
wallets' locks by primary key); a raised DomainError means nothing was written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_user
from auctions.events import send_user_event_on_commit
from auctions.locks import auction_lock, auction_row_lock
from auctions.models import Auction, Bid, Notification
from auctions.rules import mask_name, soft_close_end, sure_loser_minimum
from auctions.selectors import RECENT_BIDS, PublicState, auction_min_next_bid, auction_public_state
from auctions.services._base import (
    Status,
    auction_write,
    check_amount,
    check_participant,
    check_request_id,
    ensure_open,
    publish_state,
)
from auctions.services.engagement import notify
from neighborbid.errors import (
    AuctionNotFound,
    BidTooLow,
    BuyNowUnavailable,
    DomainError,
    DuplicateRequest,
    InsufficientFunds,
    LoginRequired,
    UseBuyNow,
)
from neighborbid.logs import money_action
from trades.services import trade_open
from wallets.locks import wallet_rows_lock, wallets_lock
from wallets.models import LedgerEntry
from wallets.services import Move, Posting, wallet_moves_apply, wallet_moves_plan, wallet_moves_sql


@dataclass(frozen=True)
class BidResult:
    bid: Bid
    state: PublicState
    duplicate: bool = False


@dataclass(frozen=True)
class PurchaseResult:
    auction: Auction
    state: PublicState
    duplicate: bool = False


def _earlier_bid(*, bidder_id: int, request_id: str) -> Bid | None:
    return Bid.objects.filter(bidder_id=bidder_id, client_request_id=request_id).first()


def _replay(earlier: Bid, *, auction_id: int, amount: int) -> BidResult:
    """The same request again: the first outcome, or an error if it is not really the same."""
    if earlier.auction_id != auction_id or earlier.amount != amount:
        raise DuplicateRequest()
    auction = Auction.objects.get(pk=auction_id)
    return BidResult(bid=earlier, state=auction_public_state(auction), duplicate=True)


@money_action("bid")
def bid_place(*, auction_id: int, actor: User, amount: int, request_id: str) -> BidResult:
    """Place a bid. Idempotent by (bidder, request_id): the same request again returns the
    first outcome; the same id with another amount or auction is refused.

    The repeat check runs before the lock (the common retry costs no lock time); a twin that
    raced this request is recognised after the locked attempt failed, or by the unique
    constraint. Replays are decided outside the transaction: a return from inside atomic()
    would commit whatever the block had written so far."""
    check_amount(amount)
    check_request_id(request_id)
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise LoginRequired()
    # One read before the lock: an earlier bid with this request id, and the committed state.
    earlier_id, committed = _bid_preread(auction_id=auction_id, bidder_id=actor.pk, request_id=request_id)
    if earlier_id is not None:
        # A repeat is answered with the first outcome even if the user was suspended since:
        # the bid stands, and an error would tell the client nothing happened.
        return _replay(Bid.objects.get(pk=earlier_id), auction_id=auction_id, amount=amount)
    if committed is None:
        raise AuctionNotFound()
    user = access_user(actor)
    _refuse_early_if_too_low(committed, user=user, amount=amount)
    try:
        bid, state = _bid_atomic(auction_id=auction_id, user=user, amount=amount, request_id=request_id)
    except DomainError:
        twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
        if twin is not None:
            return _replay(twin, auction_id=auction_id, amount=amount)
        raise
    except IntegrityError as exc:
        # The same request id raced itself: the unique constraint decided.
        if "bid_unique_request" not in str(exc):
            raise
        twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
        if twin is None:
            raise DuplicateRequest() from exc
        return _replay(twin, auction_id=auction_id, amount=amount)
    return BidResult(bid=bid, state=state)


_PREREAD_SQL = None


def _bid_preread(*, auction_id: int, bidder_id: int, request_id: str) -> tuple[int | None, dict | None]:
    """One statement: the id of this bidder's earlier bid with this request id (if any) and the
    auction's committed state (None: no such auction)."""
    global _PREREAD_SQL
    if _PREREAD_SQL is None:
        _PREREAD_SQL = (
            f"SELECT (SELECT b.id FROM {Bid._meta.db_table} b WHERE b.bidder_id = %s AND b.client_request_id = %s), "  # noqa: S608 (tables from meta)
            f"a.id, a.status, a.current_price, a.leader_id, a.seq, a.is_national, a.seller_id "
            f"FROM (SELECT 1 AS one) AS one LEFT JOIN {Auction._meta.db_table} a ON a.id = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(_PREREAD_SQL, [bidder_id, request_id, auction_id])
        row = cursor.fetchone()
    earlier_id, found = row[0], row[1]
    if found is None:
        return earlier_id, None
    keys = ("status", "current_price", "leader_id", "seq", "is_national", "seller_id")
    return earlier_id, dict(zip(keys, row[2:], strict=True))


def _refuse_early_if_too_low(committed: dict, *, user: User, amount: int) -> None:
    """Refuse a bid that is already too low against the committed price, without queueing for
    the row lock. In a drop most bids lose a race; they should not hold up the winners
    (auctions.rules.sure_loser_minimum says when that is safe). The locked path still checks
    everything. No earlier bid with this request id existed at the pre-read, so this is no
    retry of an accepted bid."""
    if not committed["is_national"] or committed["seller_id"] == user.pk:
        # Only live national auctions (where races happen); anything else gets the locked
        # path's precise reason.
        return
    minimum = sure_loser_minimum(
        status=committed["status"],
        has_bids=committed["leader_id"] is not None,
        current_price=committed["current_price"],
        amount=amount,
    )
    if minimum is not None:
        raise BidTooLow.below(minimum, current_price=committed["current_price"], seq=committed["seq"])


@dataclass
class _BidPlan:
    """What an accepted bid writes, decided by the rules under the lock."""

    bidder_name: str
    needed: int
    outbid_id: int | None
    released: int
    postings: list[Posting]
    final: list[tuple[int, int, int]]


def _bid_atomic(*, auction_id: int, user: User, amount: int, request_id: str) -> tuple[Bid, PublicState]:
    """Lock, decide, write, commit. On PostgreSQL the locked section is three statements with no
    ORM compile and no model instance: lock the auction row, lock the wallets (by primary key),
    and one statement that writes the bid, the wallets, the ledger, the notification and the
    auction. A refusal commits the empty transaction instead of rolling back (nothing was
    written; a ROLLBACK would make psycopg deallocate every prepared statement)."""
    fast = connection.vendor == "postgresql"
    refusal: DomainError | None = None
    with transaction.atomic():
        auction: Any = auction_row_lock(auction_id=auction_id) if fast else auction_lock(auction_id=auction_id)
        now = timezone.now()  # the server clock, read under the auction lock
        try:
            wallets = _bid_check(auction, user=user, amount=amount, now=now, fast=fast)
        except DomainError as exc:
            refusal = exc
        else:
            plan = _bid_plan(auction, user=user, amount=amount, wallets=wallets)
            previous_price = auction.current_price
            _bid_apply_state(auction, user=user, amount=amount, now=now, name=plan.bidder_name)
            if fast:
                bid_id, note_id = _bid_write_sql(
                    auction, plan, user=user, amount=amount, request_id=request_id, now=now
                )
            else:
                bid_id, note_id = _bid_write_orm(auction, plan, user=user, amount=amount, request_id=request_id)
            if plan.outbid_id is not None:
                send_user_event_on_commit(
                    user_id=plan.outbid_id,
                    event=_outbid_event(auction, note_id=note_id, amount=amount, released=previous_price),
                )
            state = publish_state(auction, leader_name=plan.bidder_name)
    if refusal is not None:
        raise refusal
    bid = Bid(id=bid_id, auction_id=auction_id, bidder_id=user.pk, amount=amount, client_request_id=request_id)
    bid.created_at = now
    return bid, state


def _bid_check(auction: Any, *, user: User, amount: int, now: datetime, fast: bool) -> dict:
    """The rules of a bid against the locked auction; returns the locked wallets."""
    ensure_open(auction, now)
    check_participant(user=user, auction=auction)
    minimum = auction_min_next_bid(auction)
    if amount < minimum:
        raise BidTooLow.below(minimum, current_price=auction.current_price, seq=auction.seq)
    if auction.buy_now_price is not None and amount >= auction.buy_now_price:
        raise UseBuyNow(
            f"즉시구매가({auction.buy_now_price:,}원) 이상은 입찰할 수 없어요. 즉시구매를 이용해 주세요.",
            buy_now_price=auction.buy_now_price,
            current_price=auction.current_price,
            min_next_bid=minimum,
        )
    lock = wallet_rows_lock if fast else wallets_lock
    wallets = lock(user_ids=[user.pk, auction.leader_id])
    needed = amount - auction.current_price if auction.leader_id == user.pk else amount
    if wallets[user.pk].balance < needed:
        raise InsufficientFunds(
            f"사용 가능한 잔액({wallets[user.pk].balance:,}원)이 부족해요. 필요한 금액: {needed:,}원",
            current_price=auction.current_price,
            min_next_bid=minimum,
        )
    return wallets


def _bid_plan(auction: Any, *, user: User, amount: int, wallets: dict) -> _BidPlan:
    """The escrow movements of an accepted bid: hold the new amount (or the raise over one's own
    bid), release the previous leader's hold."""
    raising_own = auction.leader_id == user.pk
    needed = amount - auction.current_price if raising_own else amount
    moves = [Move.hold(wallets[user.pk], amount=needed, auction=auction)]
    outbid_id = auction.leader_id if auction.leader_id is not None and not raising_own else None
    if outbid_id is not None:
        moves.append(Move.release(wallets[outbid_id], amount=auction.current_price, auction=auction))
    postings, final = wallet_moves_plan(*moves)
    return _BidPlan(user.nickname or user.username, needed, outbid_id, auction.current_price, postings, final)


def _bid_apply_state(auction: Any, *, user: User, amount: int, now: datetime, name: str) -> None:
    """The auction's new state after an accepted bid (in memory; the write follows)."""
    auction.current_price = amount
    auction.leader_id = user.pk
    auction.bid_count += 1
    auction.recent_bids = [
        {"amount": amount, "bidder": mask_name(name), "at": now.isoformat()},
        *(auction.recent_bids or []),
    ][:RECENT_BIDS]
    auction.ends_at = soft_close_end(
        now=now,
        ends_at=auction.ends_at,
        original_ends_at=auction.original_ends_at,
        window_s=auction.soft_close_window_s,
        extension_s=auction.soft_close_extension_s,
        cap_s=auction.soft_close_cap_s,
    )
    auction.seq += 1


def _outbid_message(auction: Any, *, amount: int, released: int) -> str:
    return f"'{auction.title}' 경매에서 더 높은 입찰({amount:,}원)이 들어왔어요. 입찰금 {released:,}원은 지갑으로 돌아왔어요."


def _outbid_event(auction: Any, *, note_id: int | None, amount: int, released: int) -> dict:
    return {
        "type": "notification",
        "kind": Notification.Kind.OUTBID,
        "notification_id": note_id,
        "message": _outbid_message(auction, amount=amount, released=released),
        "auction_id": auction.pk,
        "current_price": amount,
        "released": released,
    }


def _bid_write_orm(auction: Any, plan: _BidPlan, *, user: User, amount: int, request_id: str) -> tuple[int, int | None]:
    """The writes of an accepted bid through the ORM (SQLite, the embedded default)."""
    bid = Bid.objects.create(auction_id=auction.pk, bidder_id=user.pk, amount=amount, client_request_id=request_id)
    # wallet_moves_plan already computed the wallets' numbers: write exactly those
    now = timezone.now()
    from wallets.services import _wallets_write

    _wallets_write(plan.final, now=now)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                wallet_id=p.wallet_id,
                kind=p.kind,
                balance_delta=p.balance_delta,
                locked_delta=p.locked_delta,
                balance_after=p.balance_after,
                locked_after=p.locked_after,
                auction_id=auction.pk,
                bid=bid,
            )
            for p in plan.postings
        ]
    )
    note_id = None
    if plan.outbid_id is not None:
        note = Notification.objects.create(
            user_id=plan.outbid_id,
            kind=Notification.Kind.OUTBID,
            auction_id=auction.pk,
            message=_outbid_message(auction, amount=amount, released=plan.released),
        )
        note_id = note.pk
    auction.seq -= 1  # auction_write bumps it again
    auction_write(auction, "current_price", "leader", "bid_count", "recent_bids", "ends_at", "status")
    return bid.pk, note_id


_AUCTION_TABLE = Auction._meta.db_table
_BID_TABLE = Bid._meta.db_table
_NOTE_TABLE = Notification._meta.db_table


def _bid_write_sql(
    auction: Any, plan: _BidPlan, *, user: User, amount: int, request_id: str, now: datetime
) -> tuple[int, int | None]:
    """Every write of an accepted bid as ONE PostgreSQL statement (data-modifying CTEs): the
    bid, the wallets and their ledger rows (wallets.services.wallet_moves_sql), the outbid
    notification and the auction's new state. Returns (bid id, notification id)."""
    wallet_ctes, wallet_params = wallet_moves_sql(
        plan.postings, plan.final, now=now, auction_id=auction.pk, bid_cte="new_bid"
    )
    ctes = [
        f"new_bid AS (INSERT INTO {_BID_TABLE} (auction_id, bidder_id, amount, client_request_id, created_at) "  # noqa: S608 (tables from meta)
        "VALUES (%s, %s, %s, %s, %s) RETURNING id)",
        *wallet_ctes,
    ]
    params: list[object] = [auction.pk, user.pk, amount, request_id, now, *wallet_params]
    if plan.outbid_id is not None:
        ctes.append(
            f"new_note AS (INSERT INTO {_NOTE_TABLE} (user_id, kind, auction_id, message, created_at, read_at) "  # noqa: S608 (tables from meta)
            "VALUES (%s, %s, %s, %s, %s, NULL) RETURNING id)"
        )
        params += [
            plan.outbid_id,
            Notification.Kind.OUTBID,
            auction.pk,
            _outbid_message(auction, amount=amount, released=plan.released),
            now,
        ]
    ctes.append(
        f"auction_write AS (UPDATE {_AUCTION_TABLE} SET current_price = %s, leader_id = %s, bid_count = %s, "  # noqa: S608 (tables from meta)
        "recent_bids = %s::jsonb, ends_at = %s, status = %s, seq = %s, updated_at = %s WHERE id = %s)"
    )
    params += [
        auction.current_price,
        auction.leader_id,
        auction.bid_count,
        json.dumps(auction.recent_bids, ensure_ascii=False),
        auction.ends_at,
        auction.status,
        auction.seq,
        now,
        auction.pk,
    ]
    note_select = "(SELECT id FROM new_note)" if plan.outbid_id is not None else "NULL"
    sql = "WITH " + ", ".join(ctes) + f" SELECT (SELECT id FROM new_bid), {note_select}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        bid_id, note_id = cursor.fetchone()
    return bid_id, note_id


@money_action("buy_now")
def auction_buy_now(*, auction_id: int, actor: User, request_id: str) -> PurchaseResult:
    """Buy at the buy-now price: the auction ends as sold at once."""
    check_request_id(request_id)
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise LoginRequired()
    bought = _earlier_purchase(buyer_id=actor.pk, request_id=request_id, auction_id=auction_id)
    if bought is not None:
        return bought
    user = access_user(actor)
    try:
        state = _buy_now_atomic(auction_id=auction_id, user=user, request_id=request_id)
    except DomainError:
        # The same request may have bought it meanwhile (a twin): answer with its outcome.
        twin = _earlier_purchase(buyer_id=user.pk, request_id=request_id, auction_id=auction_id)
        if twin is not None:
            return twin
        raise
    return PurchaseResult(auction=state[0], state=state[1])


def _earlier_purchase(*, buyer_id: int, request_id: str, auction_id: int) -> PurchaseResult | None:
    bought = Auction.objects.filter(winner_id=buyer_id, buy_now_request_id=request_id).first()
    if bought is None:
        return None
    if bought.pk != auction_id:
        raise DuplicateRequest()
    return PurchaseResult(auction=bought, state=auction_public_state(bought), duplicate=True)


def _buy_now_atomic(*, auction_id: int, user: User, request_id: str) -> tuple[Auction, PublicState]:
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        now = timezone.now()
        ensure_open(auction, now)
        check_participant(user=user, auction=auction)
        price = auction.buy_now_price
        if price is None or auction.current_price >= price:
            raise BuyNowUnavailable()

        leader_id = auction.leader_id
        held = auction.current_price if leader_id is not None else 0
        wallets = wallets_lock(user_ids=[user.pk, leader_id])
        moves = []
        if leader_id == user.pk:
            paid_held, extra = held, price - held
            if wallets[user.pk].balance < extra:
                raise InsufficientFunds(f"즉시구매에 {extra:,}원이 더 필요해요.")
        else:
            paid_held, extra = 0, price
            if wallets[user.pk].balance < price:
                raise InsufficientFunds(f"즉시구매에 {price:,}원이 필요해요.")
            if leader_id is not None:
                moves.append(Move.release(wallets[leader_id], amount=held, auction=auction))
                notify(
                    user_id=leader_id,
                    kind=Notification.Kind.OUTBID,
                    auction=auction,
                    message=f"'{auction.title}' 경매가 즉시구매로 끝났어요. 입찰금 {held:,}원은 지갑으로 돌아왔어요.",
                    extra={"released": held},
                )
        if moves:
            wallet_moves_apply(*moves)
        # The buyer's money (their hold, if they led, plus the rest from their balance) moves
        # into the trade's escrow; the seller is paid when the buyer confirms receipt.
        trade = trade_open(auction=auction, buyer_wallet=wallets[user.pk], held=paid_held, extra=extra, now=now)

        auction.status = Status.SOLD
        auction.end_reason = Auction.EndReason.BUY_NOW
        auction.current_price = price
        auction.leader = user
        auction.winner = user
        auction.ended_at = now
        auction.buy_now_request_id = request_id
        auction_write(
            auction, "status", "end_reason", "current_price", "leader", "winner", "ended_at", "buy_now_request_id"
        )
        notify(
            user_id=user.pk,
            kind=Notification.Kind.WON,
            auction=auction,
            message=f"'{auction.title}' 상품을 {price:,}원에 즉시구매했어요. 대금은 구매확정할 때까지 안전하게 보관돼요.",
            extra={"trade_id": trade.pk},
        )
        notify(
            user_id=auction.seller_id,
            kind=Notification.Kind.SOLD,
            auction=auction,
            message=f"'{auction.title}' 상품이 즉시구매로 {price:,}원에 팔렸어요. "
            "대금은 안전하게 보관되고, 구매자가 구매확정하면 지갑에 들어와요.",
            extra={"trade_id": trade.pk},
        )
        state = publish_state(auction, leader_name=user.nickname or user.username, ended=True)
    return auction, state
