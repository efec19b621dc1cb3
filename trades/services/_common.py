"""What every trade step shares: the state sets, the lock, the wallets, the notices, and the
one payout (release to the seller, refund to the buyer)."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from auctions.models import Auction
from neighborbid.errors import TradeStateError
from notifications.models import Notification
from notifications.services import notification_create
from trades.locks import trade_lock
from trades.models import Trade
from wallets.locks import wallets_lock
from wallets.models import Wallet
from wallets.services import Move, wallet_moves_apply

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


def _release(
    trade: Trade,
    *,
    now: datetime,
    status: str,
    staff: User | None = None,
    memo: str = "",
    review_notice_for: tuple[int, ...] | None = None,
) -> None:
    """Pay the seller the escrow. Both sides are asked for a review: by a notice of its own
    (`review_notice_for`: the side(s) the step tells nothing else; default both), or, for a
    side the step already tells, inside that step's one notice (REVIEW_ASK): one event, one
    notification (issue 18 #20)."""
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
    ask = (trade.buyer_id, trade.seller_id) if review_notice_for is None else review_notice_for
    if ask:
        _review_request_notify(trade=trade, user_ids=list(ask))


REVIEW_ASK = " 거래 후기도 남겨 주세요."


def _review_request_notify(*, trade: Trade, user_ids: list[int]) -> None:
    """Ask both sides of a trade that just completed for a review ("거래 후기를 남겨 주세요"),
    in the caller's transaction (a trade becomes reviewable on 구매확정, automatic completion,
    or a dispute released to the seller). The trade services own it; the link points at the
    reviews page (a URL, not an import of the reviews services)."""
    auction = trade.auction  # loaded already
    notification_create(
        user_ids=sorted(set(user_ids)),
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
