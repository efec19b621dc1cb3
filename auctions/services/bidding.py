"""Bidding: a bid and buy-now, the only ways money enters escrow for an auction.

Idempotent by the client's request id; the rules run under the auction's row lock (then the
wallets' locks by primary key); a raised DomainError means nothing was written."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import DeviceSighting, User
from accounts.selectors import access_user
from auctions.events import send_user_event_on_commit
from auctions.locks import auction_lock, auction_row_lock
from auctions.models import Auction, Bid
from auctions.rules import RAISE, ProxyOutcome, mask_name, proxy_bid, soft_close_end, sure_loser_minimum
from auctions.selectors import RECENT_BIDS, PublicState, auction_min_next_bid, auction_public_state
from auctions.services._base import (
    Status,
    auction_write,
    check_amount,
    check_participant,
    check_request_id,
    ensure_open,
    leader_hold,
    publish_state,
)
from neighborbid.errors import (
    AuctionNotFound,
    BidTooLow,
    BuyNowUnavailable,
    DomainError,
    DuplicateRequest,
    InsufficientFunds,
    InvalidAmount,
    LoginRequired,
    MaximumNotRaised,
    SellerLinked,
    UseBuyNow,
)
from neighborbid.logs import money_action
from notifications.models import Notification
from notifications.services import notify
from trades.services import trade_open
from wallets.locks import wallet_rows_lock, wallets_lock
from wallets.models import LedgerEntry
from wallets.services import Move, Posting, wallet_moves_apply, wallet_moves_plan, wallet_moves_sql


@dataclass(frozen=True)
class BidResult:
    bid: Bid
    state: PublicState
    duplicate: bool = False
    leading: bool = True  # does the bidder lead after it (a maximum may have answered at once)
    my_max: int | None = None  # the bidder's own maximum while leading (never public)


@dataclass(frozen=True)
class PurchaseResult:
    auction: Auction
    state: PublicState
    duplicate: bool = False


def _earlier_bid(*, bidder_id: int, request_id: str) -> Bid | None:
    return Bid.objects.filter(bidder_id=bidder_id, client_request_id=request_id).first()


def _replay(earlier: Bid, *, auction_id: int, amount: int, max_amount: int | None) -> BidResult:
    """The same request again: the first outcome, or an error if it is not really the same.

    A request id names one bid: its auction, its amount and the maximum it asked for (the
    amount when it sent none). A resend must ask for exactly that; a different amount, a
    different or missing maximum, or another auction is `duplicate_request`. A maximum raise
    is recorded at the price with the new maximum, so for a raise the maximum asked for (the
    higher of amount and maximum, what a raise acts on) must match."""
    asked_max = amount if max_amount is None else max(amount, max_amount)
    same = (
        earlier.auction_id == auction_id
        and earlier.max_amount == asked_max
        and (earlier.kind == Bid.Kind.RAISE or earlier.amount == amount)
    )
    if not same:
        raise DuplicateRequest()
    auction = Auction.objects.get(pk=auction_id)
    leading = auction.leader_id == earlier.bidder_id
    return BidResult(
        bid=earlier,
        state=auction_public_state(auction),
        duplicate=True,
        leading=leading,
        my_max=auction.leader_max if leading else None,
    )


@money_action("bid")
def bid_place(
    *, auction_id: int, actor: User, amount: int, request_id: str, max_amount: int | None = None
) -> BidResult:
    """Place a bid, optionally with a maximum (max bidding: the system bids for the bidder up
    to it, one ladder step at a time, and the whole maximum is held while it leads).
    Idempotent by (bidder, request_id): the same request again returns the first outcome; the
    same id with another amount, maximum or auction is refused.

    The repeat check runs before the lock (the common retry costs no lock time); a twin that
    raced this request is recognised after the locked attempt failed, or by the unique
    constraint. Replays are decided outside the transaction: a return from inside atomic()
    would commit whatever the block had written so far."""
    check_amount(amount)
    check_request_id(request_id)
    if max_amount is not None:
        check_amount(max_amount)
        if max_amount < amount:
            raise InvalidAmount("최대 입찰가는 입찰가보다 낮을 수 없어요.")
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise LoginRequired()
    # One read before the lock: an earlier bid with this request id, and the committed state.
    earlier_id, committed = _bid_preread(auction_id=auction_id, bidder_id=actor.pk, request_id=request_id)
    if earlier_id is not None:
        # A repeat is answered with the first outcome even if the user was suspended since:
        # the bid stands, and an error would tell the client nothing happened.
        return _replay(Bid.objects.get(pk=earlier_id), auction_id=auction_id, amount=amount, max_amount=max_amount)
    if committed is None:
        raise AuctionNotFound()
    user = access_user(actor)
    if committed["seller_linked"]:
        raise SellerLinked()
    _refuse_early_if_too_low(committed, user=user, amount=amount)
    maximum = max_amount if max_amount is not None else amount
    try:
        return _bid_atomic(auction_id=auction_id, user=user, amount=amount, maximum=maximum, request_id=request_id)
    except DomainError:
        twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
        if twin is not None:
            return _replay(twin, auction_id=auction_id, amount=amount, max_amount=max_amount)
        raise
    except IntegrityError as exc:
        # The same request id raced itself: the unique constraint decided.
        if "bid_unique_request" not in str(exc):
            raise
        twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
        if twin is None:
            raise DuplicateRequest() from exc
        return _replay(twin, auction_id=auction_id, amount=amount, max_amount=max_amount)


_PREREAD_SQL = None


def _bid_preread(*, auction_id: int, bidder_id: int, request_id: str) -> tuple[int | None, dict[str, Any] | None]:
    """One statement: the id of this bidder's earlier bid with this request id (if any) and the
    auction's committed state (None: no such auction)."""
    global _PREREAD_SQL
    if _PREREAD_SQL is None:
        _PREREAD_SQL = (
            f"SELECT (SELECT b.id FROM {Bid._meta.db_table} b WHERE b.bidder_id = %s AND b.client_request_id = %s), "  # noqa: S608 (tables from meta)
            f"a.id, a.status, a.current_price, a.leader_id, a.seq, a.is_national, a.seller_id, "
            # The hard shill-bidding link (fraud/): the bidder signed in on the seller's browser.
            f"EXISTS (SELECT 1 FROM {DeviceSighting._meta.db_table} mine "
            f"JOIN {DeviceSighting._meta.db_table} theirs ON theirs.device_hash = mine.device_hash "
            f"WHERE mine.user_id = %s AND theirs.user_id = a.seller_id AND a.seller_id <> %s) "
            f"FROM (SELECT 1 AS one) AS one LEFT JOIN {Auction._meta.db_table} a ON a.id = %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(_PREREAD_SQL, [bidder_id, request_id, bidder_id, bidder_id, auction_id])
        row = cursor.fetchone()
    earlier_id, found = row[0], row[1]
    if found is None:
        return earlier_id, None
    keys = ("status", "current_price", "leader_id", "seq", "is_national", "seller_id", "seller_linked")
    return earlier_id, dict(zip(keys, row[2:], strict=True))


def _refuse_early_if_too_low(committed: dict[str, Any], *, user: User, amount: int) -> None:
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
        is_leader=committed["leader_id"] == user.pk,
    )
    if minimum is not None:
        raise BidTooLow.below(minimum, current_price=committed["current_price"], seq=committed["seq"])


@dataclass
class _BidPlan:
    """What an accepted bid writes, decided by the rules under the lock."""

    bidder_name: str
    outcome: ProxyOutcome
    previous_leader_id: int | None
    previous_price: int
    postings: list[Posting]
    final: list[tuple[int, int, int]]
    names: dict[int, str]

    @property
    def outbid_id(self) -> int | None:
        """The previous leader, when this bid took the lead from them."""
        return self.outcome.release[0] if self.outcome.release else None

    @property
    def lost_at_once(self) -> bool:
        """The bidder's maximum was not enough: the leader's maximum answered automatically."""
        return self.outcome.leader_id != self.outcome.rows[0].bidder_id


def _bid_atomic(*, auction_id: int, user: User, amount: int, maximum: int, request_id: str) -> BidResult:
    """Lock, decide, write, commit. On PostgreSQL the locked section is three statements with no
    ORM compile and no model instance: lock the auction row, lock the wallets (by primary key),
    and one statement that writes the bids, the wallets, the ledger, the notifications and the
    auction. A refusal raises inside the block, so the transaction rolls back: whatever a future
    change might write before a check can never be committed by a refusal (issue 9 #11). (We
    tried committing the empty transaction instead, to keep psycopg from deallocating prepared
    statements after a ROLLBACK; tests/auctions/test_replay_outside_the_transaction.py showed
    why not.)"""
    fast = connection.vendor == "postgresql"
    with transaction.atomic():
        auction: Any = auction_row_lock(auction_id=auction_id) if fast else auction_lock(auction_id=auction_id)
        now = timezone.now()  # the server clock, read under the auction lock
        wallets = _bid_check(auction, user=user, amount=amount, maximum=maximum, fast=fast, now=now)
        # the accepted bid's writes
        plan = _bid_plan(auction, user=user, amount=amount, maximum=maximum, wallets=wallets)
        _bid_apply_state(auction, plan=plan, now=now)
        if fast:
            bid_id, notes = _bid_write_sql(auction, plan, request_id=request_id, now=now)
        else:
            bid_id, notes = _bid_write_orm(auction, plan, request_id=request_id)
        for (user_id, kind, message, extra), note_id in zip(_bid_notifications(auction, plan), notes, strict=True):
            send_user_event_on_commit(
                user_id=user_id,
                event={
                    "type": "notification",
                    "kind": kind,
                    "notification_id": note_id,
                    "message": message,
                    "auction_id": auction.pk,
                    **extra,
                },
            )
        if plan.outcome.price_moved:
            state = publish_state(auction, leader_name=plan.names[auction.leader_id])
        else:
            state = auction_public_state(auction, leader_name=plan.names[auction.leader_id])
    placed = plan.outcome.rows[0]
    bid = Bid(
        id=bid_id,
        auction_id=auction_id,
        bidder_id=user.pk,
        amount=placed.amount,
        max_amount=placed.max_amount,
        kind=placed.kind,
        client_request_id=request_id,
    )
    bid.created_at = now
    leading = plan.outcome.leader_id == user.pk
    return BidResult(bid=bid, state=state, leading=leading, my_max=plan.outcome.leader_max if leading else None)


def _bid_check(auction: Any, *, user: User, amount: int, maximum: int, fast: bool, now: datetime) -> dict[int, Any]:
    """The rules of a bid against the locked auction; returns the locked wallets."""
    ensure_open(auction, now)
    check_participant(user=user, auction=auction)
    minimum = auction_min_next_bid(auction)
    leading = auction.leader_id is not None and auction.leader_id == user.pk
    if leading:
        new_max = max(amount, maximum)
        if new_max <= auction.leader_max:
            raise MaximumNotRaised(
                f"지금 최대 입찰가({auction.leader_max:,}원)보다 높게만 바꿀 수 있어요.",
                my_max=auction.leader_max,
                current_price=auction.current_price,
            )
    elif amount < minimum:
        raise BidTooLow.below(minimum, current_price=auction.current_price, seq=auction.seq)
    top = max(amount, maximum)
    if auction.buy_now_price is not None and top >= auction.buy_now_price:
        raise UseBuyNow(
            f"즉시구매가({auction.buy_now_price:,}원) 이상은 입찰할 수 없어요. 즉시구매를 이용해 주세요.",
            buy_now_price=auction.buy_now_price,
            current_price=auction.current_price,
            min_next_bid=minimum,
        )
    lock = wallet_rows_lock if fast else wallets_lock
    wallets = lock(user_ids=[user.pk, auction.leader_id])
    needed = top - auction.leader_max if leading else top
    if wallets[user.pk].balance < needed:
        raise InsufficientFunds(
            f"사용 가능한 잔액({wallets[user.pk].balance:,}원)이 부족해요. 필요한 금액: {needed:,}원",
            current_price=auction.current_price,
            min_next_bid=minimum,
        )
    return wallets


def _bid_plan(auction: Any, *, user: User, amount: int, maximum: int, wallets: dict[int, Any]) -> _BidPlan:
    """The outcome of the second-price rule (auctions.rules.proxy_bid) and its escrow movements:
    hold the new leader's whole maximum (or the raise of one's own), release the previous
    leader's whole maximum."""
    outcome = proxy_bid(
        leader_id=auction.leader_id,
        leader_max=auction.leader_max,
        price=auction.current_price,
        bidder_id=user.pk,
        amount=amount,
        max_amount=maximum,
    )
    moves = []
    if outcome.hold is not None:
        moves.append(Move.hold(wallets[outcome.hold[0]], amount=outcome.hold[1], auction=auction))
    if outcome.release is not None:
        moves.append(Move.release(wallets[outcome.release[0]], amount=outcome.release[1], auction=auction))
    postings, final = wallet_moves_plan(*moves)
    names = {user.pk: user.nickname or user.username}
    if auction.leader_id is not None and auction.leader_id not in names:
        names[auction.leader_id] = _leader_name(auction)
    return _BidPlan(names[user.pk], outcome, auction.leader_id, auction.current_price, postings, final, names)


def _leader_name(auction: Any) -> str:
    """The current leader's name (an automatic bid is made in their name): read with the locked
    row on the hot path (auctions.locks.auction_row_lock), from the relation otherwise."""
    if isinstance(auction, Auction):
        leader = cast("User", auction.leader)  # called only while the auction has a leader
        return leader.nickname or leader.username
    if auction.leader_name is not None:
        return str(auction.leader_name)
    # The row changed while this transaction waited for its lock: PostgreSQL re-read the locked
    # auction row but not the joined user row, so the join came back empty. Read the name.
    row = User.objects.filter(pk=auction.leader_id).values_list("nickname", "username").first()
    return (row[0] or row[1]) if row else "?"


def _bid_apply_state(auction: Any, *, plan: _BidPlan, now: datetime) -> None:
    """The auction's new state after an accepted bid (in memory; the write follows)."""
    outcome = plan.outcome
    auction.leader_max = outcome.leader_max
    if not outcome.price_moved:
        return  # the leader raised their maximum: nothing public changed (no seq, no soft close)
    shown = [row for row in outcome.rows if row.kind != RAISE]
    auction.current_price = outcome.price
    auction.leader_id = outcome.leader_id
    auction.bid_count += len(shown)
    auction.recent_bids = [
        *(
            {"amount": row.amount, "bidder": mask_name(plan.names[row.bidder_id]), "at": now.isoformat()}
            for row in reversed(shown)
        ),
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


def _bid_notifications(auction: Any, plan: _BidPlan) -> list[tuple[int, str, str, dict[str, int]]]:
    """Who is told what: the previous leader when this bid took the lead (their whole maximum
    came back), the bidder when a higher maximum answered at once."""
    notes: list[tuple[int, str, str, dict[str, int]]] = []
    price = plan.outcome.price
    if plan.outbid_id is not None:
        released = plan.outcome.release[1] if plan.outcome.release else 0
        notes.append(
            (
                plan.outbid_id,
                Notification.Kind.OUTBID,
                f"'{auction.title}' 경매에서 더 높은 입찰({price:,}원)이 들어왔어요. "
                f"입찰금 {released:,}원은 지갑으로 돌아왔어요.",
                {"current_price": price, "released": released},
            )
        )
    if plan.lost_at_once:
        notes.append(
            (
                plan.outcome.rows[0].bidder_id,
                Notification.Kind.OUTBID,
                f"'{auction.title}' 경매에 더 높은 최대 입찰가가 있어 자동 입찰로 밀렸어요. "
                f"지금 가격은 {price:,}원이에요.",
                {"current_price": price, "released": 0},
            )
        )
    return notes


def _auto_request_id() -> str:
    return f"auto-{uuid.uuid4().hex}"


def _bid_write_orm(auction: Any, plan: _BidPlan, *, request_id: str) -> tuple[int, list[int]]:
    """The writes of an accepted bid through the ORM (SQLite, the embedded default)."""
    bids = Bid.objects.bulk_create(
        [
            Bid(
                auction_id=auction.pk,
                bidder_id=row.bidder_id,
                amount=row.amount,
                max_amount=row.max_amount,
                kind=row.kind,
                client_request_id=request_id if index == 0 else _auto_request_id(),
            )
            for index, row in enumerate(plan.outcome.rows)
        ]
    )
    placed = (
        bids[0]
        if bids[0].pk is not None
        else Bid.objects.get(bidder_id=plan.outcome.rows[0].bidder_id, client_request_id=request_id)
    )
    from wallets.services import _wallets_write

    if plan.final:
        _wallets_write(plan.final, now=timezone.now())
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
                bid=placed,
            )
            for p in plan.postings
        ]
    )
    note_ids = [
        Notification.objects.create(user_id=user_id, kind=kind, auction_id=auction.pk, message=message).pk
        for user_id, kind, message, _extra in _bid_notifications(auction, plan)
    ]
    if plan.outcome.price_moved:
        auction.seq -= 1  # auction_write bumps it again
        auction_write(auction, "current_price", "leader", "leader_max", "bid_count", "recent_bids", "ends_at", "status")
    else:
        Auction.objects.filter(pk=auction.pk).update(leader_max=auction.leader_max)
    return placed.pk, note_ids


_AUCTION_TABLE = Auction._meta.db_table
_BID_TABLE = Bid._meta.db_table
_NOTE_TABLE = Notification._meta.db_table


def _bid_write_sql(auction: Any, plan: _BidPlan, *, request_id: str, now: datetime) -> tuple[int, list[int]]:
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
    notes = _bid_notifications(auction, plan)
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
        held = leader_hold(auction)
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
        auction.leader_max = None
        auction_write(
            auction,
            "status",
            "end_reason",
            "current_price",
            "leader",
            "winner",
            "ended_at",
            "buy_now_request_id",
            "leader_max",
        )
        notify(
            user_id=user.pk,
            kind=Notification.Kind.WON,
            auction=auction,
            message=f"'{auction.title}' 상품을 {price:,}원에 "
            "즉시구매했어요. 대금은 구매확정할 때까지 안전하게 보관돼요.",
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
