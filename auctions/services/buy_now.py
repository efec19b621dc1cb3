"""Buy-now: the auction ends as sold at once, the buyer's money goes into the trade's escrow.
Idempotent by the client's request id (stored on the auction)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_user
from auctions.locks import auction_lock
from auctions.models import Auction
from auctions.selectors import PublicState, auction_public_state
from auctions.services._base import (
    Status,
    auction_write,
    check_participant,
    check_request_id,
    ensure_open,
    leader_hold,
    log_events,
    publish_state,
)
from neighborbid.errors import BuyNowUnavailable, DomainError, DuplicateRequest, InsufficientFunds, LoginRequired
from neighborbid.logs import money_action
from notifications.models import Notification
from notifications.services import notify
from trades.services import trade_open
from wallets.locks import wallets_lock
from wallets.services import Move, wallet_moves_apply


@dataclass(frozen=True)
class PurchaseResult:
    auction: Auction
    state: PublicState
    duplicate: bool = False


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
        logged = log_events(auction, [("buy_now", price, user.pk)], now=now)
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
            *logged,
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
