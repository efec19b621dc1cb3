"""A moderator's decision on a disputed trade: refund, release, or a split summing to the amount."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_staff
from neighborbid.errors import InvalidAmount, InvalidRequest, PermissionDenied
from neighborbid.logs import money_action
from notifications.models import Notification
from trades.models import Trade
from trades.services._common import (
    _PAYOUT_FIELDS,
    MEMO_MAX,
    OUTCOMES,
    RESOLVE,
    Status,
    _locked,
    _refund,
    _refuse_unless,
    _release,
    _tell,
    _title,
    _wallets,
    _write,
)
from wallets.services import Move, wallet_moves_apply

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
