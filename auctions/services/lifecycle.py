"""Lifecycle: open a scheduled auction, settle a due one, cancel, end early, warn watchers.

The worker calls open/settle/notify-ending-soon with SKIP LOCKED (several workers never do
one auction twice); the seller and moderators call cancel and end early."""

from __future__ import annotations

import functools
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_user
from auctions.locks import auction_lock
from auctions.models import Auction, Bid, Watch
from auctions.services._base import MODERATE, Status, auction_write, leader_hold, log_events, publish_state
from auctions.signals import auction_settled
from neighborbid.errors import AuctionNotOpen, HasBids, PermissionDenied
from neighborbid.logs import money_action
from notifications.models import Notification
from notifications.services import notification_create, notify
from trades.services import trade_open
from wallets.locks import wallets_lock
from wallets.services import Move, wallet_moves_apply


def auction_open(*, auction_id: int) -> Auction | None:
    """Open a scheduled auction whose start has come. None when there is nothing to do."""
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id, skip_locked=True)
        now = timezone.now()
        if auction is None or auction.status != Status.SCHEDULED or auction.starts_at > now:
            return None
        if now >= auction.ends_at:
            return None  # settlement takes it
        auction.status = Status.OPEN
        auction_write(auction, "status")
        publish_state(auction)
    return auction


@money_action("settle")
def auction_settle(*, auction_id: int) -> Auction | None:
    """End a due auction: the leader's hold moves into a trade's escrow (sold; the seller is
    paid when the buyer confirms), or nobody bid (unsold).

    Runs once per auction however many workers race: the row is taken with SKIP LOCKED, and
    status and ends_at are re-read under the lock (soft close may have moved ends_at)."""
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id, skip_locked=True)
        now = timezone.now()
        if auction is None or auction.status not in (Status.OPEN, Status.SCHEDULED) or auction.ends_at > now:
            return None
        auction.ended_at = now
        if auction.leader_id is not None:
            price = auction.current_price
            held = leader_hold(auction)
            wallets = wallets_lock(user_ids=[auction.leader_id])
            if held > price:  # the rest of the winner's maximum goes back to them
                wallet_moves_apply(Move.release(wallets[auction.leader_id], amount=held - price, auction=auction))
            # The winning bid's hold moves into the trade's escrow; the seller is paid when
            # the buyer confirms receipt (trades.services).
            trade = trade_open(auction=auction, buyer_wallet=wallets[auction.leader_id], held=price, now=now)
            auction.leader_max = None
            auction.status = Status.SOLD
            auction.end_reason = Auction.EndReason.BIDS
            auction.winner_id = auction.leader_id
            notify(
                user_id=auction.leader_id,
                kind=Notification.Kind.WON,
                auction=auction,
                message=f"축하해요! '{auction.title}' 상품을 {price:,}원에 낙찰받았어요. "
                "대금은 구매확정할 때까지 안전하게 보관돼요.",
                extra={"trade_id": trade.pk},
            )
            notify(
                user_id=auction.seller_id,
                kind=Notification.Kind.SOLD,
                auction=auction,
                message=f"'{auction.title}' 상품이 {price:,}원에 낙찰됐어요. "
                "대금은 안전하게 보관되고, 구매자가 구매확정하면 지갑에 들어와요.",
                extra={"trade_id": trade.pk},
            )
        else:
            auction.status = Status.UNSOLD
            auction.end_reason = Auction.EndReason.NO_BIDS
            notify(
                user_id=auction.seller_id,
                kind=Notification.Kind.UNSOLD,
                auction=auction,
                message=f"'{auction.title}' 경매가 입찰 없이 끝났어요.",
            )
        if auction.status == Status.SOLD:
            logged = log_events(auction, [("settled", auction.current_price, auction.winner_id)], now=now)
        else:
            logged = log_events(auction, [("unsold", auction.current_price, None)], now=now)
        auction_write(auction, "status", "end_reason", "winner", "ended_at", "leader_max", *logged)
        publish_state(auction, ended=True)
        if auction.status == Status.SOLD:
            transaction.on_commit(
                functools.partial(
                    auction_settled.send_robust, sender=Auction, auction_id=auction.pk, seller_id=auction.seller_id
                ),
                robust=True,
            )
    return auction


def cancel_locked(auction: Auction, *, reason: str, by_staff: bool, now: datetime) -> None:
    """Cancel a locked, not-yet-ended auction: release the leader's hold, tell everyone."""
    if auction.leader_id is not None:
        wallets = wallets_lock(user_ids=[auction.leader_id])
        wallet_moves_apply(Move.release(wallets[auction.leader_id], amount=leader_hold(auction), auction=auction))
        notify(
            user_id=auction.leader_id,
            kind=Notification.Kind.CANCELLED,
            auction=auction,
            message=f"'{auction.title}' 경매가 취소됐어요. 잠겨 있던 {leader_hold(auction):,}원은 지갑으로 돌아왔어요.",
        )
    # everyone else with a stake: earlier bidders and watchers
    others = set(Bid.objects.filter(auction=auction).values_list("bidder_id", flat=True))
    others |= set(Watch.objects.filter(auction=auction).values_list("user_id", flat=True))
    others -= {auction.leader_id, auction.seller_id}
    if others:
        notification_create(
            user_ids=sorted(others),
            kind=Notification.Kind.CANCELLED,
            auction=auction,
            message=f"참여하거나 찜한 '{auction.title}' 경매가 취소됐어요.",
        )
    if by_staff:
        notify(
            user_id=auction.seller_id,
            kind=Notification.Kind.CANCELLED,
            auction=auction,
            message=f"운영자가 '{auction.title}' 경매를 취소했어요." + (f" 사유: {reason}" if reason else ""),
        )
    auction.status = Status.CANCELLED
    auction.end_reason = Auction.EndReason.CANCELLED
    auction.ended_at = now
    auction.leader_max = None


@money_action("cancel")
def auction_cancel(*, auction_id: int, actor: User, reason: str = "") -> Auction:
    """The seller cancels while nobody has bid; a moderator (auctions.moderate_auction) may
    cancel any auction not yet ended."""
    user = access_user(actor)
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        if auction.is_ended:
            raise AuctionNotOpen("이미 종료된 경매예요.")
        # A moderator acting on their own listing obeys the seller's rules.
        moderator = user.has_perm(MODERATE) and auction.seller_id != user.pk
        if not moderator:
            if auction.seller_id != user.pk:
                raise PermissionDenied("내 경매만 취소할 수 있어요.")
            if auction.bid_count > 0:
                raise HasBids()
        now = timezone.now()
        cancel_locked(auction, reason=reason, by_staff=moderator, now=now)
        logged = log_events(auction, [("cancelled", auction.current_price, None)], now=now)
        auction_write(auction, "status", "end_reason", "ended_at", "leader_max", *logged)
        publish_state(auction, ended=True)
    return auction


@money_action("end_early")
def auction_end_early(*, auction_id: int, actor: User) -> Auction:
    """The seller ends a listing nobody has bid on (it ends unsold)."""
    user = access_user(actor)
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id)
        if auction.seller_id != user.pk:
            raise PermissionDenied("내 경매만 종료할 수 있어요.")
        if auction.is_ended:
            raise AuctionNotOpen("이미 종료된 경매예요.")
        if auction.bid_count > 0:
            raise HasBids("입찰이 있는 경매는 조기 종료할 수 없어요.")
        auction.status = Status.UNSOLD
        auction.end_reason = Auction.EndReason.SELLER_ENDED
        auction.ended_at = timezone.now()
        logged = log_events(auction, [("unsold", auction.current_price, None)], now=auction.ended_at)
        auction_write(auction, "status", "end_reason", "ended_at", *logged)
        publish_state(auction, ended=True)
    return auction


def auction_notify_ending_soon(*, auction_id: int) -> int:
    """Tell watchers (once) that an auction ends soon. Returns how many were told."""
    with transaction.atomic():
        auction = auction_lock(auction_id=auction_id, skip_locked=True)
        if auction is None or auction.status != Status.OPEN or auction.ending_soon_notified:
            return 0
        auction.ending_soon_notified = True
        auction_write(auction, "ending_soon_notified")
        watcher_ids = sorted(Watch.objects.filter(auction=auction).values_list("user_id", flat=True))
        if watcher_ids:
            notification_create(
                user_ids=watcher_ids,
                kind=Notification.Kind.ENDING_SOON,
                auction=auction,
                message=f"찜한 '{auction.title}' 경매가 곧 마감돼요.",
            )
    return len(watcher_ids)


def auction_sort_keys_refresh(*, limit: int = 500) -> int:
    """Bring the lists' sort keys (Auction.sort_price / sort_bids) of busy auctions up to their
    price and bid count where the last bid left them trailing (auctions.services.bid_writes)
    and no bid has refreshed them for a second, and rows inserted by code older than migration
    0018 (born stale, with no keys). One short statement; a row a bid holds right
    now is skipped (SKIP LOCKED: that bid or the next pass refreshes it). Nothing public
    changes (no seq, no event). Returns how many rows it refreshed."""
    from django.db.models import F, Q

    from auctions.services.bid_writes import SORT_KEYS_MAX_AGE

    now = timezone.now()
    with transaction.atomic():
        due = (
            Auction.objects.filter(sort_stale=True)
            .filter(Q(sort_at__isnull=True) | Q(sort_at__lte=now - SORT_KEYS_MAX_AGE))
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values("pk")[:limit]
        )
        return Auction.objects.filter(pk__in=due).update(
            sort_price=F("current_price"), sort_bids=F("bid_count"), sort_at=now, sort_stale=False
        )
