"""Bidding: a bid (with or without a maximum), the way money enters escrow while an auction
runs. Idempotent by the client's request id; the rules run under the auction's row lock (then
the wallets' locks by primary key); a raised DomainError means nothing was written.

The plan of an accepted bid is in auctions.services.bid_plan, its writes in
auctions.services.bid_writes, buy-now in auctions.services.buy_now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import DeviceSighting, User
from accounts.selectors import access_user
from auctions.events import send_user_event_on_commit
from auctions.locks import BidAuction, auction_lock, auction_row_lock
from auctions.models import Auction, Bid
from auctions.rules import sure_loser_minimum
from auctions.selectors import PublicState, auction_min_next_bid, auction_public_state
from auctions.services._base import (
    check_amount,
    check_participant,
    check_request_id,
    ensure_open,
    leader_hold,
    publish_state,
)
from auctions.services.bid_plan import apply_bid_state, bid_notices, plan_bid
from auctions.services.bid_writes import bid_write_orm, bid_write_sql
from neighborbid.errors import (
    AuctionNotFound,
    BidTooLow,
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
from notifications.services import push_jobs_on_commit
from wallets.locks import wallet_rows_lock, wallets_lock

# The bid's one-statement writer on PostgreSQL; False runs the ORM writer there too (the test
# that holds the two writers side by side: tests/auctions/test_bid_writers.py).
SQL_WRITER = True


@dataclass(frozen=True)
class BidResult:
    bid: Bid
    state: PublicState
    duplicate: bool = False
    leading: bool = True  # does the bidder lead after it (a maximum may have answered at once)
    my_max: int | None = None  # the bidder's own maximum while leading (never public)


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


def _bid_atomic(*, auction_id: int, user: User, amount: int, maximum: int, request_id: str) -> BidResult:
    """Lock, decide, write, commit. On PostgreSQL the locked section is three statements with no
    ORM compile and no model instance: lock the auction row, lock the wallets (by primary key),
    and one statement that writes the bids, the wallets, the ledger, the notifications and the
    auction. A refusal raises inside the block, so the transaction rolls back: whatever a future
    change might write before a check can never be committed by a refusal (issue 9 #11). (We
    tried committing the empty transaction instead, to keep psycopg from deallocating prepared
    statements after a ROLLBACK; tests/auctions/test_replay_outside_the_transaction.py showed
    why not.)"""
    fast = SQL_WRITER and connection.vendor == "postgresql"
    with transaction.atomic():
        auction: BidAuction = auction_row_lock(auction_id=auction_id) if fast else auction_lock(auction_id=auction_id)
        now = timezone.now()  # the server clock, read under the auction lock
        wallets = _bid_check(auction, user=user, amount=amount, maximum=maximum, fast=fast, now=now)
        # the accepted bid's writes
        plan = plan_bid(auction, user=user, amount=amount, maximum=maximum, wallets=wallets)
        apply_bid_state(auction, plan=plan, now=now)
        if fast:
            bid_id, notes = bid_write_sql(auction, plan, request_id=request_id, now=now)
        else:
            bid_id, notes = bid_write_orm(auction, plan, request_id=request_id, now=now)
        for (user_id, kind, message, extra), note_id in zip(bid_notices(auction, plan), notes, strict=True):
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
        # the push outbox's INSERT runs after commit, outside the auction lock (issue 22)
        push_jobs_on_commit(notification_ids=list(notes))
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


def _bid_check(
    auction: BidAuction, *, user: User, amount: int, maximum: int, fast: bool, now: datetime
) -> dict[int, Any]:
    """The rules of a bid against the locked auction; returns the locked wallets."""
    ensure_open(auction, now)
    check_participant(user=user, auction=auction)
    minimum = auction_min_next_bid(auction)
    leading = auction.leader_id is not None and auction.leader_id == user.pk
    if leading:
        new_max = max(amount, maximum)
        held = auction.leader_max if auction.leader_max is not None else auction.current_price
        if new_max <= held:
            raise MaximumNotRaised(
                f"지금 최대 입찰가({held:,}원)보다 높게만 바꿀 수 있어요.",
                my_max=held,
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
    needed = top - leader_hold(auction) if leading else top
    if wallets[user.pk].balance < needed:
        raise InsufficientFunds(
            f"사용 가능한 잔액({wallets[user.pk].balance:,}원)이 부족해요. 필요한 금액: {needed:,}원",
            current_price=auction.current_price,
            min_next_bid=minimum,
        )
    return wallets
