"""Trade reads: the pages, the header badge, the wallet page's sums, the worker's queue."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from trades.models import Trade

Status = Trade.Status
OPEN = Trade.OPEN_STATUSES
# The steps that wait on this user: the seller marks a fresh trade; the buyer confirms a
# marked one (or one the seller has not marked yet, if it was handed over in person).
SELLER_TODO = (Status.AWAITING_HANDOVER,)
BUYER_TODO = (Status.SHIPPED, Status.HANDED_OVER)


def trade_get(*, trade_id: int) -> Trade | None:
    return (
        Trade.objects.select_related("auction", "buyer__neighbourhood", "seller__neighbourhood")
        .filter(pk=trade_id)
        .first()
    )


def trade_visible_to(trade: Trade, user: User) -> bool:
    """The two parties and moderators (trades.resolve_dispute) may see a trade."""
    if not user.is_authenticated:
        return False
    return user.pk in (trade.buyer_id, trade.seller_id) or user.has_perm("trades.resolve_dispute")


def trade_role(trade: Trade, user_id: int) -> str:
    """`buyer`, `seller`, or `moderator` (anyone else who may see it)."""
    return "buyer" if trade.buyer_id == user_id else "seller" if trade.seller_id == user_id else "moderator"


def trade_actions(trade: Trade, user_id: int) -> dict[str, bool]:
    """The steps this user may offer now (the page's buttons, the API's `can`); the services
    decide again under the trade's lock."""
    role = trade_role(trade, user_id)
    S = Trade.Status
    markable = (S.AWAITING_HANDOVER, S.SHIPPED, S.HANDED_OVER)
    return {
        "hand_over": role == "seller" and not trade.is_national and trade.status == S.AWAITING_HANDOVER,
        "ship": role == "seller" and trade.is_national and trade.status == S.AWAITING_HANDOVER,
        "confirm": role == "buyer" and trade.status in markable,
        "dispute": role == "buyer" and trade.status in markable,
        "refund": role == "seller" and trade.is_open,
    }


def trade_for_auction(*, auction_id: int) -> Trade | None:
    return Trade.objects.filter(auction_id=auction_id).first()


def user_trades(*, user_id: int, which: str = "all") -> QuerySet[Trade]:
    """My trades, newest first: `buying`, `selling`, `open`, `done` or `all`."""
    qs = Trade.objects.select_related("auction", "buyer", "seller").filter(Q(buyer_id=user_id) | Q(seller_id=user_id))
    if which == "buying":
        qs = qs.filter(buyer_id=user_id)
    elif which == "selling":
        qs = qs.filter(seller_id=user_id)
    elif which == "open":
        qs = qs.filter(status__in=OPEN)
    elif which == "done":
        qs = qs.exclude(status__in=OPEN)
    return qs.order_by("-id")


def trades_needing_action_count(*, user_id: int) -> int:
    """The header badge: trades waiting on this user."""
    return Trade.objects.filter(
        Q(seller_id=user_id, status__in=SELLER_TODO) | Q(buyer_id=user_id, status__in=BUYER_TODO)
    ).count()


def trade_needs_action(trade: Trade, user_id: int) -> bool:
    return (trade.seller_id == user_id and trade.status in SELLER_TODO) or (
        trade.buyer_id == user_id and trade.status in BUYER_TODO
    )


def wallet_trade_sums(*, user_id: int) -> dict[str, int]:
    """The wallet page: `incoming` (정산 예정: open trades whose money will come to this seller)
    and `in_trades` (거래 중인 금액: this buyer's money waiting in open trades)."""
    incoming = Trade.objects.filter(seller_id=user_id, status__in=OPEN).aggregate(s=Sum("amount"))["s"] or 0
    in_trades = Trade.objects.filter(buyer_id=user_id, status__in=OPEN).aggregate(s=Sum("amount"))["s"] or 0
    return {"incoming": incoming, "in_trades": in_trades}


def trades_due_for_release(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """The worker's queue: open, undisputed trades whose deadline has come."""
    now = now or timezone.now()
    return list(
        Trade.objects.filter(
            status__in=(Status.AWAITING_HANDOVER, Status.SHIPPED, Status.HANDED_OVER), auto_release_at__lte=now
        )
        .order_by("auto_release_at")
        .values_list("id", flat=True)[:limit]
    )


def trades_escrow_total() -> int:
    """Σ amounts of open trades: the money held in escrow (in no wallet)."""
    return Trade.objects.filter(status__in=OPEN).aggregate(s=Sum("amount"))["s"] or 0
