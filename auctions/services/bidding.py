"""Bidding: a bid and buy-now, the only ways money enters escrow for an auction.

Idempotent by the client's request id; the rules run under the auction's row lock (then the
wallets' locks by primary key); a raised DomainError means nothing was written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_user
from auctions.locks import auction_lock
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
from wallets.locks import wallets_lock
from wallets.services import Move, wallet_moves_apply


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
    # A repeat is answered with the first outcome even if the user was suspended since: the
    # bid stands, and an error would tell the client nothing happened.
    earlier = _earlier_bid(bidder_id=actor.pk, request_id=request_id)
    if earlier is not None:
        return _replay(earlier, auction_id=auction_id, amount=amount)
    user = access_user(actor)
    _refuse_early_if_too_low(auction_id=auction_id, user=user, amount=amount, request_id=request_id)
    try:
        with transaction.atomic():
            auction = auction_lock(auction_id=auction_id)
            now = timezone.now()  # the server clock, read under the auction lock
            bid, state = _bid_locked(auction, user=user, amount=amount, request_id=request_id, now=now)
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


def _refuse_early_if_too_low(*, auction_id: int, user: User, amount: int, request_id: str) -> None:
    """Refuse a bid that is already too low against the committed price, without queueing for
    the row lock. In a drop most bids lose a race; they should not hold up the winners
    (auctions.rules.sure_loser_minimum says when that is safe). The locked path still checks
    everything."""
    row = (
        Auction.objects.filter(pk=auction_id)
        .values("status", "current_price", "leader_id", "seq", "is_national", "seller_id")
        .first()
    )
    if row is None:
        raise AuctionNotFound()
    if not row["is_national"] or row["seller_id"] == user.pk:
        # Only live national auctions (where races happen); anything else gets the locked
        # path's precise reason.
        return
    minimum = sure_loser_minimum(
        status=row["status"], has_bids=row["leader_id"] is not None, current_price=row["current_price"], amount=amount
    )
    if minimum is None:
        return
    twin = _earlier_bid(bidder_id=user.pk, request_id=request_id)
    if twin is not None:
        _replay(twin, auction_id=auction_id, amount=amount)  # another amount: DuplicateRequest
        return  # the same request won meanwhile: the locked path replays it
    raise BidTooLow.below(minimum, current_price=row["current_price"], seq=row["seq"])


def _bid_locked(
    auction: Auction, *, user: User, amount: int, request_id: str, now: datetime
) -> tuple[Bid, PublicState]:
    """The rules and writes of a bid; the caller holds the auction lock."""
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

    previous_leader_id = auction.leader_id
    previous_price = auction.current_price
    raising_own = previous_leader_id == user.pk
    needed = amount - previous_price if raising_own else amount
    wallets = wallets_lock(user_ids=[user.pk, previous_leader_id])
    if wallets[user.pk].balance < needed:
        raise InsufficientFunds(
            f"사용 가능한 잔액({wallets[user.pk].balance:,}원)이 부족해요. 필요한 금액: {needed:,}원",
            current_price=auction.current_price,
            min_next_bid=minimum,
        )

    name = user.nickname or user.username
    bid = Bid.objects.create(auction=auction, bidder=user, amount=amount, client_request_id=request_id)
    moves = [Move.hold(wallets[user.pk], amount=needed, auction=auction, bid=bid)]
    outbid_id = None if raising_own else previous_leader_id
    if outbid_id is not None:
        moves.append(Move.release(wallets[outbid_id], amount=previous_price, auction=auction, bid=bid))
    wallet_moves_apply(*moves)
    if outbid_id is not None:
        notify(
            user_id=outbid_id,
            kind=Notification.Kind.OUTBID,
            auction=auction,
            message=f"'{auction.title}' 경매에서 더 높은 입찰({amount:,}원)이 들어왔어요. "
            f"입찰금 {previous_price:,}원은 지갑으로 돌아왔어요.",
            extra={"current_price": amount, "released": previous_price},
        )

    auction.current_price = amount
    auction.leader = user
    auction.bid_count += 1
    auction.recent_bids = [
        {"amount": amount, "bidder": mask_name(name), "at": bid.created_at.isoformat()},
        *auction.recent_bids,
    ][:RECENT_BIDS]
    auction.ends_at = soft_close_end(
        now=now,
        ends_at=auction.ends_at,
        original_ends_at=auction.original_ends_at,
        window_s=auction.soft_close_window_s,
        extension_s=auction.soft_close_extension_s,
        cap_s=auction.soft_close_cap_s,
    )
    auction_write(auction, "current_price", "leader", "bid_count", "recent_bids", "ends_at", "status")
    return bid, publish_state(auction, leader_name=name)


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
        wallets = wallets_lock(user_ids=[user.pk, leader_id, auction.seller_id])
        if leader_id == user.pk:
            extra = price - held
            if wallets[user.pk].balance < extra:
                raise InsufficientFunds(f"즉시구매에 {extra:,}원이 더 필요해요.")
            moves = [Move.capture(wallets[user.pk], held=held, extra=extra, auction=auction)]
        else:
            if wallets[user.pk].balance < price:
                raise InsufficientFunds(f"즉시구매에 {price:,}원이 필요해요.")
            moves = [Move.capture(wallets[user.pk], held=0, extra=price, auction=auction)]
            if leader_id is not None:
                moves.append(Move.release(wallets[leader_id], amount=held, auction=auction))
                notify(
                    user_id=leader_id,
                    kind=Notification.Kind.OUTBID,
                    auction=auction,
                    message=f"'{auction.title}' 경매가 즉시구매로 끝났어요. 입찰금 {held:,}원은 지갑으로 돌아왔어요.",
                    extra={"released": held},
                )
        moves.append(Move.credit(wallets[auction.seller_id], amount=price, auction=auction))
        wallet_moves_apply(*moves)

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
            message=f"'{auction.title}' 상품을 {price:,}원에 즉시구매했어요.",
        )
        notify(
            user_id=auction.seller_id,
            kind=Notification.Kind.SOLD,
            auction=auction,
            message=f"'{auction.title}' 상품이 즉시구매로 {price:,}원에 팔렸어요. 대금이 지갑에 들어왔어요.",
        )
        state = publish_state(auction, leader_name=user.nickname or user.username, ended=True)
    return auction, state
