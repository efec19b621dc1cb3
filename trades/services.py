"""Trade services: the buyer's money in escrow after the hammer, and its one payout.

State machine (docs/architecture.md has the table with the money of each step):

    awaiting_handover ─ seller marks handed over (local) ─▶ handed_over ─┐
          │          └ seller marks shipped (national) ─▶ shipped ──────┤
          │                                                              ├ buyer confirms / N days ─▶ completed
          ├ buyer confirms (received without a mark) ─▶ completed        │
          ├ N+3 days unmarked (worker) ─▶ refunded                       │
          ├ seller refunds (any open state, also disputed) ─▶ refunded   │
          └ buyer opens a dispute (any open state but disputed) ─▶ disputed ─ moderator ─▶ refunded | released | split

Every step locks the trade row first (trades.locks.trade_lock; the worker with SKIP LOCKED),
then the wallets by primary key, re-reads the state under the lock and raises a DomainError
before writing anything when the step is not allowed. Money moves only through
wallets.services.wallet_moves_apply: `trade_escrow` in (at the sale, inside the auction's
transaction), then exactly one payout: `trade_release` to the seller, `trade_refund` to the
buyer, or one of each (a moderator's split) summing to the amount.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_staff, access_user
from auctions.models import Auction
from neighborbid.errors import InvalidAmount, InvalidRequest, PermissionDenied, TradeStateError
from neighborbid.logs import money_action
from notifications.models import Notification
from notifications.services import notification_create
from trades.locks import trade_lock
from trades.models import Trade, TradeDisputePhoto, dispute_photo_path
from wallets.locks import wallets_lock
from wallets.models import Wallet
from wallets.services import Move, wallet_moves_apply

if TYPE_CHECKING:
    from auctions.images import NamedContentFile

logger = logging.getLogger("neighborbid.trades")
Status = Trade.Status
RESOLVE = "trades.resolve_dispute"  # the moderators' permission (accounts.roles)
MARKABLE = (Status.AWAITING_HANDOVER,)
CONFIRMABLE = (Status.AWAITING_HANDOVER, Status.SHIPPED, Status.HANDED_OVER)
DISPUTABLE = (Status.AWAITING_HANDOVER, Status.SHIPPED, Status.HANDED_OVER)
REFUNDABLE = (Status.AWAITING_HANDOVER, Status.SHIPPED, Status.HANDED_OVER, Status.DISPUTED)
AUTO = (Status.AWAITING_HANDOVER, Status.SHIPPED, Status.HANDED_OVER)  # never disputed
OUTCOMES = (Status.REFUNDED, Status.RELEASED, Status.SPLIT)
REASON_MAX = 1000
MEMO_MAX = 1000


def confirm_days() -> int:
    return int(settings.NEIGHBORBID.get("TRADE_AUTO_CONFIRM_DAYS", 7))


def unmarked_days() -> int:
    return confirm_days() + int(settings.NEIGHBORBID.get("TRADE_UNMARKED_GRACE_DAYS", 3))


# --- helpers (private) -------------------------------------------------------------------------


def _write(trade: Trade, *fields: str) -> None:
    trade.seq += 1
    trade.save(update_fields=[*fields, "seq", "updated_at"])


def _tell(trade: Trade, *, user_ids: list[int], kind: str, message: str) -> None:
    notification_create(
        user_ids=sorted(set(user_ids)),
        kind=kind,
        auction=trade.auction,
        message=message,
        extra={"trade_id": trade.pk, "trade_status": trade.status},
    )


def _title(trade: Trade) -> str:
    return trade.auction.title


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local.month}월 {local.day}일 {local.hour:02d}:{local.minute:02d}"


def _locked(trade_id: int) -> Trade:
    trade = trade_lock(trade_id=trade_id)
    trade.auction = Auction.objects.only("id", "title").get(pk=trade.auction_id)
    return trade


def _wallets(trade: Trade) -> dict[int, Wallet]:
    return wallets_lock(user_ids=[trade.buyer_id, trade.seller_id])


def _refuse_unless(trade: Trade, allowed: tuple[str, ...], message: str) -> None:
    if trade.status not in allowed:
        raise TradeStateError(f"{message} (지금 상태: {trade.get_status_display()})", status=trade.status)


def _release(trade: Trade, *, now: datetime, status: str, staff: User | None = None, memo: str = "") -> None:
    wallets = _wallets(trade)
    wallet_moves_apply(
        Move.escrow_release(
            wallets[trade.seller_id],
            amount=trade.amount,
            auction=trade.auction,
            trade=trade,
            staff_user=staff,
            memo=memo,
        )
    )
    trade.status, trade.seller_payout, trade.buyer_refund = status, trade.amount, 0
    trade.completed_at = now if status == Status.COMPLETED else trade.completed_at
    trade.auto_release_at = None
    _review_request_notify(trade=trade)  # "거래 후기를 남겨 주세요" to both sides


def _review_request_notify(*, trade: Trade) -> None:
    """Ask both sides of a trade that just completed for a review ("거래 후기를 남겨 주세요"),
    in the caller's transaction (a trade becomes reviewable on 구매확정, automatic completion,
    or a dispute released to the seller). The trade services own it; the link points at the
    reviews page (a URL, not an import of the reviews services)."""
    auction = trade.auction  # loaded already
    notification_create(
        user_ids=sorted({trade.buyer_id, trade.seller_id}),
        kind=Notification.Kind.TRADE_COMPLETED,
        auction=auction,
        message=f"'{auction.title}' 거래가 끝났어요. 거래 후기를 남겨 주세요.",
        extra={"trade_id": trade.pk, "review_url": reverse("reviews:review", args=[trade.pk])},
    )


def _refund(trade: Trade, *, now: datetime, staff: User | None = None, memo: str = "") -> None:
    wallets = _wallets(trade)
    wallet_moves_apply(
        Move.escrow_refund(
            wallets[trade.buyer_id],
            amount=trade.amount,
            auction=trade.auction,
            trade=trade,
            staff_user=staff,
            memo=memo,
        )
    )
    trade.status, trade.buyer_refund, trade.seller_payout = Status.REFUNDED, trade.amount, 0
    trade.auto_release_at = None


_PAYOUT_FIELDS = ("status", "seller_payout", "buyer_refund", "completed_at", "auto_release_at")


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
        _release(trade, now=timezone.now(), status=Status.COMPLETED)
        _write(trade, *_PAYOUT_FIELDS)
        _tell(
            trade,
            user_ids=[trade.seller_id],
            kind=Notification.Kind.TRADE_COMPLETED,
            message=f"구매자가 '{_title(trade)}' 구매를 확정했어요. {trade.amount:,}원이 지갑에 들어왔어요.",
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


# --- moderators -------------------------------------------------------------------------------


@money_action("trade_resolve")
def trade_dispute_resolve(
    *, trade_id: int, staff_user: User, outcome: str, buyer_amount: int | None = None, memo: str
) -> Trade:
    """A moderator (trades.resolve_dispute) decides a dispute: `refunded` (all to the buyer),
    `released` (all to the seller) or `split` (whole-won `buyer_amount` to the buyer,
    0 < buyer_amount < amount, the rest to the seller). A memo is required; a moderator never
    decides a trade they are part of."""
    memo = (memo or "").strip()
    if not memo:
        raise InvalidRequest("해결 사유를 입력해 주세요.")
    if len(memo) > MEMO_MAX:
        raise InvalidRequest(f"해결 사유는 {MEMO_MAX}자 이내로 입력해 주세요.")
    if outcome not in OUTCOMES:
        raise InvalidRequest("해결 방법은 환불, 판매자 정산, 분할 정산 중 하나예요.")
    split_buyer = 0  # the buyer's part of a split, checked to be an int here
    if outcome == Status.SPLIT:
        if isinstance(buyer_amount, bool) or not isinstance(buyer_amount, int):
            raise InvalidAmount("분할 정산은 구매자에게 돌려줄 금액을 정수(원)로 입력해 주세요.")
        split_buyer = buyer_amount
    elif buyer_amount is not None:
        raise InvalidRequest("구매자 금액은 분할 정산에서만 입력해요.")
    staff = access_staff(staff_user, perm=RESOLVE, message="분쟁 해결 권한이 없어요.")
    with transaction.atomic():
        trade = _locked(trade_id)
        if staff.pk in (trade.buyer_id, trade.seller_id):
            raise PermissionDenied("내가 참여한 거래의 분쟁은 해결할 수 없어요. 다른 운영자에게 요청해 주세요.")
        _refuse_unless(trade, (Status.DISPUTED,), "분쟁 중인 거래만 해결할 수 있어요.")
        now = timezone.now()
        note = memo[:200]
        if outcome == Status.REFUNDED:
            _refund(trade, now=now, staff=staff, memo=note)
            summary = f"구매자에게 {trade.amount:,}원 전액 환불"
        elif outcome == Status.RELEASED:
            _release(trade, now=now, status=Status.RELEASED, staff=staff, memo=note)
            summary = f"판매자에게 {trade.amount:,}원 전액 정산"
        else:
            if not (0 < split_buyer < trade.amount):
                raise InvalidAmount(f"구매자 금액은 1원 이상 {trade.amount - 1:,}원 이하로 입력해 주세요.")
            seller_amount = trade.amount - split_buyer
            wallets = _wallets(trade)
            wallet_moves_apply(
                Move.escrow_refund(
                    wallets[trade.buyer_id],
                    amount=split_buyer,
                    auction=trade.auction,
                    trade=trade,
                    staff_user=staff,
                    memo=note,
                ),
                Move.escrow_release(
                    wallets[trade.seller_id],
                    amount=seller_amount,
                    auction=trade.auction,
                    trade=trade,
                    staff_user=staff,
                    memo=note,
                ),
            )
            trade.status, trade.buyer_refund, trade.seller_payout = Status.SPLIT, split_buyer, seller_amount
            trade.auto_release_at = None
            summary = f"구매자 {split_buyer:,}원, 판매자 {seller_amount:,}원으로 분할 정산"
        trade.resolved_at, trade.resolved_by, trade.resolution_memo = now, staff, memo
        _write(trade, *_PAYOUT_FIELDS, "resolved_at", "resolved_by", "resolution_memo")
        _tell(
            trade,
            user_ids=[trade.buyer_id, trade.seller_id],
            kind=Notification.Kind.TRADE_RESOLVED,
            message=f"운영자가 '{_title(trade)}' 거래의 분쟁을 해결했어요: {summary}. 사유: {memo[:100]}",
        )
    return trade


# --- the worker -------------------------------------------------------------------------------


def trade_auto_release(*, trade_id: int, now: datetime | None = None) -> Trade | None:
    """The worker acts on one due trade (SKIP LOCKED; state and deadline re-read under the
    lock): marked (handed over / shipped) → completed, paid to the seller; never marked →
    refunded to the buyer. Disputed trades never auto-release. None when nothing was done."""
    with transaction.atomic():
        trade = trade_lock(trade_id=trade_id, skip_locked=True)
        now = now or timezone.now()
        if trade is None or trade.status not in AUTO or trade.auto_release_at is None or trade.auto_release_at > now:
            return None
        trade.auction = Auction.objects.only("id", "title").get(pk=trade.auction_id)
        if trade.status == Status.AWAITING_HANDOVER:
            _refund(trade, now=now)
            _write(trade, *_PAYOUT_FIELDS)
            _tell(
                trade,
                user_ids=[trade.buyer_id, trade.seller_id],
                kind=Notification.Kind.TRADE_REFUNDED,
                message=f"'{_title(trade)}' 거래가 {unmarked_days()}일 동안 전달되지 않아 자동으로 환불됐어요. "
                f"구매자에게 {trade.amount:,}원이 돌아갔어요.",
            )
        else:
            _release(trade, now=now, status=Status.COMPLETED)
            _write(trade, *_PAYOUT_FIELDS)
            _tell(
                trade,
                user_ids=[trade.buyer_id, trade.seller_id],
                kind=Notification.Kind.TRADE_COMPLETED,
                message=f"'{_title(trade)}' 거래가 자동으로 구매확정됐어요. "
                f"판매자에게 {trade.amount:,}원이 정산됐어요.",
            )
    logger.info("trade auto-released id=%s status=%s", trade.pk, trade.status)
    return trade


def trades_auto_release_due(*, now: datetime | None = None, limit: int = 100) -> int:
    """Every due trade, one transaction each (the worker's step). Returns how many were done."""
    from trades.selectors import trades_due_for_release

    moment = now or timezone.now()
    done = 0
    for trade_id in trades_due_for_release(now=moment, limit=limit):
        done += trade_auto_release(trade_id=trade_id, now=now) is not None
    return done
