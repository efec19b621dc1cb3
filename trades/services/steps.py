"""The trade's steps by its two sides: opened at the sale; the seller marks handed over or
shipped, or refunds; the buyer confirms receipt (구매확정) or opens a dispute."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_user
from auctions.models import Auction
from neighborbid.errors import InvalidRequest, PermissionDenied, TradeStateError
from neighborbid.logs import money_action
from notifications.models import Notification
from trades.models import Trade, TradeDisputePhoto, dispute_photo_path
from trades.services._common import (
    _PAYOUT_FIELDS,
    CONFIRMABLE,
    DISPUTABLE,
    MARKABLE,
    REASON_MAX,
    REFUNDABLE,
    REVIEW_ASK,
    Status,
    _locked,
    _refund,
    _refuse_unless,
    _release,
    _tell,
    _title,
    _when,
    _write,
    confirm_days,
    logger,
    unmarked_days,
)
from wallets.models import Wallet
from wallets.services import Move, wallet_moves_apply

if TYPE_CHECKING:
    from auctions.images import NamedContentFile

# --- the sale ---------------------------------------------------------------------------------


def trade_open(*, auction: Auction, buyer_wallet: Wallet, held: int, extra: int = 0, now: datetime) -> Trade:
    """Open the trade of a sale and move the buyer's money into its escrow: `held` from the
    buyer's locked money (their winning bid), `extra` from their balance (buy-now).

    Called by auction_settle / auction_buy_now inside their transaction, holding the auction's
    lock and the buyer's wallet lock. The seller is not credited: the trade pays out later."""
    trade = Trade.objects.create(
        auction=auction,
        buyer_id=buyer_wallet.user_id,
        seller_id=auction.seller_id,
        amount=held + extra,
        is_national=auction.is_national,
        status=Status.AWAITING_HANDOVER,
        auto_release_at=now + timedelta(days=unmarked_days()),
    )
    wallet_moves_apply(Move.escrow_in(buyer_wallet, held=held, extra=extra, auction=auction, trade=trade))
    from chat.services import chat_room_open_for_trade  # the trade's private room (chat/)

    chat_room_open_for_trade(trade=trade)
    return trade


# --- the seller -------------------------------------------------------------------------------


@money_action("trade_handed_over")
def trade_mark_handed_over(*, trade_id: int, actor: User) -> Trade:
    """Local trade: the seller says the item was handed over; the buyer's confirmation clock
    (TRADE_AUTO_CONFIRM_DAYS) starts."""
    user = access_user(actor)
    with transaction.atomic():
        trade = _locked(trade_id)
        if trade.seller_id != user.pk:
            raise PermissionDenied("판매자만 전달 완료를 알릴 수 있어요.")
        if trade.is_national:
            raise TradeStateError("전국 거래는 발송 정보(택배사, 송장 번호)를 입력해 주세요.")
        _refuse_unless(trade, MARKABLE, "이미 처리된 거래예요.")
        now = timezone.now()
        trade.status, trade.handed_over_at = Status.HANDED_OVER, now
        trade.auto_release_at = now + timedelta(days=confirm_days())
        _write(trade, "status", "handed_over_at", "auto_release_at")
        _tell(
            trade,
            user_ids=[trade.buyer_id],
            kind=Notification.Kind.TRADE_HANDED_OVER,
            message=f"판매자가 '{_title(trade)}' 상품을 전달했다고 알려왔어요. 받으셨다면 구매확정해 주세요. "
            f"{_when(trade.auto_release_at)}에 자동으로 구매확정돼요.",
        )
    return trade


def _clean_text(value: object, *, label: str, max_length: int) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise InvalidRequest(f"{label}을(를) 입력해 주세요.")
    if len(text) > max_length:
        raise InvalidRequest(f"{label}은(는) {max_length}자 이내로 입력해 주세요.")
    return text


@money_action("trade_shipped")
def trade_mark_shipped(*, trade_id: int, actor: User, carrier: str, tracking_number: str) -> Trade:
    """National trade: the seller marks it shipped (carrier and tracking number as free text);
    the buyer's confirmation clock starts."""
    carrier = _clean_text(carrier, label="택배사", max_length=50)
    tracking_number = _clean_text(tracking_number, label="송장 번호", max_length=50)
    user = access_user(actor)
    with transaction.atomic():
        trade = _locked(trade_id)
        if trade.seller_id != user.pk:
            raise PermissionDenied("판매자만 발송 정보를 입력할 수 있어요.")
        if not trade.is_national:
            raise TradeStateError("동네 거래는 직접 만나서 전달한 뒤 '전달 완료'를 눌러 주세요.")
        _refuse_unless(trade, MARKABLE, "이미 처리된 거래예요.")
        now = timezone.now()
        trade.status, trade.shipped_at = Status.SHIPPED, now
        trade.carrier, trade.tracking_number = carrier, tracking_number
        trade.auto_release_at = now + timedelta(days=confirm_days())
        _write(trade, "status", "shipped_at", "carrier", "tracking_number", "auto_release_at")
        _tell(
            trade,
            user_ids=[trade.buyer_id],
            kind=Notification.Kind.TRADE_SHIPPED,
            message=f"'{_title(trade)}' 상품이 발송됐어요. ({carrier} {tracking_number}) 받으셨다면 구매확정해 주세요. "
            f"{_when(trade.auto_release_at)}에 자동으로 구매확정돼요.",
        )
    return trade


@money_action("trade_refund")
def trade_refund(*, trade_id: int, actor: User) -> Trade:
    """The seller refunds the buyer in full, at any time before completion (also while
    disputed). Allowed while suspended: it only gives the buyer's money back."""
    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        trade = _locked(trade_id)
        if trade.seller_id != user.pk:
            raise PermissionDenied("판매자만 환불할 수 있어요.")
        _refuse_unless(trade, REFUNDABLE, "이미 끝난 거래라 환불할 수 없어요.")
        now = timezone.now()
        _refund(trade, now=now)
        trade.resolved_at = now if trade.disputed_at else None
        _write(trade, *_PAYOUT_FIELDS, "resolved_at")
        _tell(
            trade,
            user_ids=[trade.buyer_id],
            kind=Notification.Kind.TRADE_REFUNDED,
            message=f"판매자가 '{_title(trade)}' 거래를 환불했어요. {trade.amount:,}원이 지갑으로 돌아왔어요.",
        )
    return trade


# --- the buyer --------------------------------------------------------------------------------


@money_action("trade_confirm")
def trade_confirm(*, trade_id: int, actor: User) -> Trade:
    """구매확정: the buyer confirms receipt; the escrow goes to the seller. Allowed while
    suspended (it only pays the seller what is theirs)."""
    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        trade = _locked(trade_id)
        if trade.buyer_id != user.pk:
            raise PermissionDenied("구매자만 구매확정할 수 있어요.")
        if trade.status == Status.DISPUTED:
            raise TradeStateError("분쟁 중인 거래는 운영자가 해결해요.", status=trade.status)
        if trade.is_national and trade.status == Status.AWAITING_HANDOVER:
            # 택배: nothing can have been received before it was sent.
            raise TradeStateError("판매자가 발송한 뒤에 구매확정할 수 있어요.", status=trade.status)
        _refuse_unless(trade, CONFIRMABLE, "이미 끝난 거래예요.")
        # the buyer confirmed (they know): a review request; the seller: one notice for both
        _release(trade, now=timezone.now(), status=Status.COMPLETED, review_notice_for=(trade.buyer_id,))
        _write(trade, *_PAYOUT_FIELDS)
        _tell(
            trade,
            user_ids=[trade.seller_id],
            kind=Notification.Kind.TRADE_COMPLETED,
            message=f"구매자가 '{_title(trade)}' 구매를 확정했어요. {trade.amount:,}원이 지갑에 들어왔어요."
            + REVIEW_ASK,
        )
    return trade


def _dispute_photos(photos: Iterable[UploadedFile[Any]] | None) -> list[NamedContentFile]:
    from auctions.images import process_upload

    photos = list(photos or [])
    limit = int(settings.NEIGHBORBID.get("TRADE_DISPUTE_MAX_PHOTOS", 5))
    if len(photos) > limit:
        raise InvalidRequest(f"사진은 최대 {limit}장까지 올릴 수 있어요.")
    return [process_upload(f).image for f in photos]


@money_action("trade_dispute")
def trade_dispute_open(
    *, trade_id: int, actor: User, reason: str, photos: Iterable[UploadedFile[Any]] | None = ()
) -> Trade:
    """The buyer opens a dispute (until completion): the automatic release stops and a
    moderator decides. Photos are processed before the lock; their files are written after
    commit (the rows are written with the dispute)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("분쟁 사유를 입력해 주세요.")
    if len(reason) > REASON_MAX:
        raise InvalidRequest(f"분쟁 사유는 {REASON_MAX}자 이내로 입력해 주세요.")
    images = _dispute_photos(photos)
    user = access_user(actor, allow_suspended=True)  # a suspended buyer may still claim their money
    with transaction.atomic():
        trade = _locked(trade_id)
        if trade.buyer_id != user.pk:
            raise PermissionDenied("구매자만 분쟁을 신청할 수 있어요.")
        _refuse_unless(trade, DISPUTABLE, "분쟁을 신청할 수 없는 거래예요.")
        trade.status, trade.disputed_at, trade.dispute_reason = Status.DISPUTED, timezone.now(), reason
        trade.auto_release_at = None
        _write(trade, "status", "disputed_at", "dispute_reason", "auto_release_at")
        files = []
        for image in images:
            stub = TradeDisputePhoto(trade=trade)
            name = dispute_photo_path(stub, f"{uuid.uuid4().hex[:12]}.jpg")
            stub.image.name = name
            stub.save()
            files.append((name, image))
        if files:
            transaction.on_commit(lambda: _write_files(files), robust=True)
        _tell(
            trade,
            user_ids=[trade.seller_id],
            kind=Notification.Kind.TRADE_DISPUTED,
            message=f"구매자가 '{_title(trade)}' 거래에 분쟁을 신청했어요. 운영자가 확인할 때까지 대금은 보관돼요. "
            f"사유: {reason[:120]}",
        )
    return trade


def _write_files(files: Sequence[tuple[str, File[Any]]]) -> None:
    for name, content in files:
        stored = default_storage.save(name, content)
        if stored != name:  # uuid names: never expected
            logger.error("dispute photo stored as %s instead of %s", stored, name)
