"""The worker's step: the automatic release of a handed-over trade N days on (and the refund
of one never marked), one trade at a time."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from auctions.models import Auction
from notifications.models import Notification
from trades.locks import trade_lock
from trades.models import Trade
from trades.services._common import (
    _PAYOUT_FIELDS,
    AUTO,
    REVIEW_ASK,
    Status,
    _refund,
    _release,
    _tell,
    _title,
    _write,
    logger,
    unmarked_days,
)

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
            _release(trade, now=now, status=Status.COMPLETED, review_notice_for=())
            _write(trade, *_PAYOUT_FIELDS)
            _tell(
                trade,
                user_ids=[trade.buyer_id, trade.seller_id],
                kind=Notification.Kind.TRADE_COMPLETED,
                message=f"'{_title(trade)}' 거래가 자동으로 구매확정됐어요. "
                f"판매자에게 {trade.amount:,}원이 정산됐어요." + REVIEW_ASK,
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
