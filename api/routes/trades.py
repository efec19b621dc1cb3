"""Trades after a sale: my trades, one trade, and every step the trade page offers (hand-over,
shipping, 구매확정, refund, a dispute). Another person's trade is 404 for every call, as on the
pages. The steps are safe to repeat by nature: each runs under the trade's lock and a second try
finds the state moved on (409 trade_state), so they take no Idempotency-Key."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, UploadedFile
from pydantic import Field

from accounts.models import User
from api.auth import actor
from api.schemas import DisputeIn, PartyOut, ShipIn, TradeActions, TradeOut, TradePage, problems
from neighborbid.errors import TradeNotFound
from trades import selectors
from trades.models import Trade
from trades.services import (
    trade_confirm,
    trade_dispute_open,
    trade_mark_handed_over,
    trade_mark_shipped,
    trade_refund,
)

router = Router(tags=["trades"])
PAGE_SIZE = 20
STEP_ERRORS = problems(401, 403, 404, 409)


class TradeFilters(Schema):
    tab: Literal["open", "buying", "selling", "done", "all"] = "open"
    before: int | None = Field(None, ge=1, le=2**63 - 1)


def _out(trade: Trade, user: User) -> TradeOut:
    return TradeOut(
        id=trade.pk,
        auction_id=trade.auction_id,
        title=trade.auction.title,
        amount=trade.amount,
        is_national=trade.is_national,
        status=trade.status,
        status_label=str(trade.get_status_display()),
        role=selectors.trade_role(trade, user.pk),  # type: ignore[arg-type]  # one of the three
        buyer=PartyOut(id=trade.buyer_id, nickname=trade.buyer.nickname),
        seller=PartyOut(id=trade.seller_id, nickname=trade.seller.nickname),
        carrier=trade.carrier,
        tracking_number=trade.tracking_number,
        auto_release_at=trade.auto_release_at,
        created_at=trade.created_at,
        seq=trade.seq,
        can=TradeActions(**selectors.trade_actions(trade, user.pk)),
    )


def _visible(trade_id: int, user: User) -> Trade:
    trade = selectors.trade_get(trade_id=trade_id)
    if trade is None or not selectors.trade_visible_to(trade, user):
        raise TradeNotFound()
    return trade


@router.get("", response={200: TradePage, **problems(401, 422)}, summary="나의 거래")
def trade_list(request: HttpRequest, filters: Query[TradeFilters]):
    user = actor(request)
    rows = selectors.user_trades(user_id=user.pk, which=filters.tab)
    if filters.before is not None:
        rows = rows.filter(pk__lt=filters.before)
    page = list(rows[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    return TradePage(items=[_out(t, user) for t in page], next_cursor=page[-1].pk if more else None)


@router.get("/{trade_id}", response={200: TradeOut, **problems(401, 404)}, summary="거래 상세")
def trade_detail(request: HttpRequest, trade_id: int):
    user = actor(request)
    return _out(_visible(trade_id, user), user)


def _after(trade_id: int, user: User) -> TradeOut:
    return _out(_visible(trade_id, user), user)


@router.post("/{trade_id}/hand-over", response={200: TradeOut, **STEP_ERRORS}, summary="전달 완료 (판매자, 동네 거래)")
def hand_over(request: HttpRequest, trade_id: int):
    user = actor(request)
    _visible(trade_id, user)  # a stranger learns nothing but "not found"
    trade_mark_handed_over(trade_id=trade_id, actor=user)
    return _after(trade_id, user)


@router.post("/{trade_id}/ship", response={200: TradeOut, **STEP_ERRORS}, summary="발송 (판매자, 전국 거래)")
def ship(request: HttpRequest, trade_id: int, data: ShipIn):
    user = actor(request)
    _visible(trade_id, user)
    trade_mark_shipped(trade_id=trade_id, actor=user, carrier=data.carrier, tracking_number=data.tracking_number)
    return _after(trade_id, user)


@router.post("/{trade_id}/confirm", response={200: TradeOut, **STEP_ERRORS}, summary="구매확정 (구매자)")
def confirm(request: HttpRequest, trade_id: int):
    """The escrow goes to the seller, once."""
    user = actor(request)
    _visible(trade_id, user)
    trade_confirm(trade_id=trade_id, actor=user)
    return _after(trade_id, user)


@router.post("/{trade_id}/refund", response={200: TradeOut, **STEP_ERRORS}, summary="환불 (판매자)")
def refund(request: HttpRequest, trade_id: int):
    """The escrow goes back to the buyer, once."""
    user = actor(request)
    _visible(trade_id, user)
    trade_refund(trade_id=trade_id, actor=user)
    return _after(trade_id, user)


@router.post("/{trade_id}/dispute", response={200: TradeOut, **STEP_ERRORS}, summary="분쟁 신청 (구매자)")
def dispute(request: HttpRequest, trade_id: int, data: DisputeIn):
    """A moderator decides; the automatic release stops. With photos: `/dispute/photos`."""
    user = actor(request)
    _visible(trade_id, user)
    trade_dispute_open(trade_id=trade_id, actor=user, reason=data.reason)
    return _after(trade_id, user)


@router.post(
    "/{trade_id}/dispute/photos",
    response={200: TradeOut, **problems(400, 401, 403, 404, 409, 413)},
    summary="사진과 함께 분쟁 신청 (구매자, multipart)",
)
def dispute_with_photos(
    request: HttpRequest,
    trade_id: int,
    reason: Form[str],
    photos: File[list[UploadedFile]],
):
    """multipart/form-data: `reason` and up to the page's number of `photos` (JPEG, PNG, WebP), the
    same rules as the trade page's dispute form (trades.services.trade_dispute_open)."""
    user = actor(request)
    _visible(trade_id, user)
    trade_dispute_open(trade_id=trade_id, actor=user, reason=reason, photos=photos)
    return _after(trade_id, user)
