"""Moderation of listings: hide (which cancels a live one), and the hiding that is part of a
seller's suspension. Reports live in engagement; suspension in accounts.services."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_staff
from auctions.locks import auction_lock
from auctions.models import Auction
from auctions.services._base import MODERATE, Status, auction_write, log_events, publish_state
from auctions.services.lifecycle import cancel_locked
from neighborbid.errors import InvalidRequest, PermissionDenied
from neighborbid.logs import money_action

logger = logging.getLogger("neighborbid.money")


@money_action("hide")
def auction_hide(*, auction_id: int, staff_user: User, reason: str) -> Auction:
    """Moderation: hide a listing. A live one is cancelled too (holds released), since a
    hidden listing can no longer be bid on."""
    user = access_staff(staff_user, perm=MODERATE)
    return _hide(auction_id=auction_id, staff=user, reason=reason)


def seller_listings_hide(*, seller_id: int, staff_user: User, reason: str) -> int:
    """Part of a suspension (accounts.services.user_suspend, through on_user_suspended): hide
    and refund every live listing of a suspended seller, each in its own transaction (never
    many auction locks at once). Returns how many were hidden; safe to run again."""
    user = access_staff(staff_user, perm="accounts.suspend_user")
    if not User.objects.filter(pk=seller_id, is_suspended=True).exists():
        raise InvalidRequest("이용 정지된 판매자의 경매만 한꺼번에 숨길 수 있어요.")
    live = Auction.objects.filter(seller_id=seller_id, status__in=[Status.SCHEDULED, Status.OPEN], is_hidden=False)
    hidden = 0
    for auction_id in live.values_list("pk", flat=True):
        _hide(auction_id=auction_id, staff=user, reason=reason)
        hidden += 1
    return hidden


def on_user_suspended(*, user_id: int, staff_user: User, reason: str, **kwargs: object) -> int:
    """Receiver of accounts.signals.user_suspended (connected in AuctionsConfig.ready): the
    suspended seller's live listings are hidden and refunded. Returns how many."""
    return seller_listings_hide(seller_id=user_id, staff_user=staff_user, reason=f"판매자 이용 정지: {reason}")


def _hide(*, auction_id: int, staff: User, reason: str) -> Auction:
    reason = (reason or "").strip()
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        if auction.seller_id == staff.pk:
            # A moderator's own listing obeys the seller's rules (a seller cannot hide).
            raise PermissionDenied("내 경매는 숨길 수 없어요. 다른 운영자에게 요청해 주세요.")
        fields = ["is_hidden", "hidden_reason"]
        ended_now = False
        if not auction.is_ended:
            now = timezone.now()
            cancel_locked(auction, reason=reason, by_staff=True, now=now)
            fields += ["status", "end_reason", "ended_at", "leader_max"]
            fields += log_events(auction, [("cancelled", auction.current_price, None)], now=now)
            ended_now = True
        auction.is_hidden = True
        auction.hidden_reason = reason
        auction_write(auction, *fields)
        publish_state(auction, ended=ended_now)
    logger.info("auction hidden id=%s staff=%s", auction_id, staff.pk)
    return auction
