"""Reads about auctions. `auction_public_state` is the one function that builds the numbers a
page shows, the WebSocket snapshot and every live `state` message."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from auctions.models import Auction, Bid
from auctions.rules import mask_name, min_next_bid

RECENT_BIDS = 5


def auction_min_next_bid(auction: Auction) -> int:
    return min_next_bid(current_price=auction.current_price, has_bids=auction.leader_id is not None)


def leader_tag(*, auction_id: int, user_id: int | None) -> str | None:
    """An opaque per-auction tag for a user: a client compares the state's `leader_tag` with
    its own (given in its snapshot) to know whether it leads, without user ids going public."""
    if user_id is None:
        return None
    digest = hmac.new(settings.SECRET_KEY.encode(), f"lead:{auction_id}:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def auction_recent_bids(*, auction_id: int, limit: int = RECENT_BIDS) -> list[dict]:
    rows = (
        Bid.objects.filter(auction_id=auction_id)
        .order_by("-id")
        .values("amount", "created_at", "bidder__nickname", "bidder__username")[:limit]
    )
    return [
        {
            "amount": row["amount"],
            "bidder": mask_name(row["bidder__nickname"] or row["bidder__username"]),
            "at": row["created_at"].isoformat(),
        }
        for row in rows
    ]


def auction_public_state(
    auction: Auction,
    *,
    recent_bids: list[dict] | None = None,
    leader_name: str | None = None,
    now: datetime | None = None,
) -> dict:
    """The whole public state of one auction, as a plain JSON-able dict."""
    if recent_bids is None:
        recent_bids = auction_recent_bids(auction_id=auction.pk)
    if leader_name is None and auction.leader_id is not None:
        leader = auction.leader
        leader_name = leader.nickname or leader.username
    now = now or timezone.now()
    return {
        "type": "state",
        "auction_id": auction.pk,
        "seq": auction.seq,
        "status": auction.status,
        "end_reason": auction.end_reason or None,
        "is_national": auction.is_national,
        "current_price": auction.current_price,
        "min_next_bid": auction_min_next_bid(auction),
        "buy_now_price": auction.buy_now_price,
        "bid_count": auction.bid_count,
        "leader": mask_name(leader_name) if auction.leader_id else None,
        "leader_tag": leader_tag(auction_id=auction.pk, user_id=auction.leader_id),
        "starts_at": auction.starts_at.isoformat(),
        "ends_at": auction.ends_at.isoformat(),
        "server_time": now.isoformat(),
        "recent_bids": recent_bids,
    }


def auction_get(*, auction_id: int) -> Auction | None:
    return Auction.objects.select_related("seller", "neighbourhood", "leader").filter(pk=auction_id).first()


def auctions_due_to_open(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    now = now or timezone.now()
    return list(
        Auction.objects.filter(status=Auction.Status.SCHEDULED, starts_at__lte=now)
        .order_by("starts_at")
        .values_list("pk", flat=True)[:limit]
    )


def auctions_due_to_settle(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    now = now or timezone.now()
    return list(
        Auction.objects.filter(status=Auction.Status.OPEN, ends_at__lte=now)
        .order_by("ends_at")
        .values_list("pk", flat=True)[:limit]
    )


def auctions_ending_soon_unnotified(*, now: datetime | None = None, minutes: int = 10, limit: int = 100) -> list[int]:
    now = now or timezone.now()
    return list(
        Auction.objects.filter(
            status=Auction.Status.OPEN,
            ending_soon_notified=False,
            ends_at__gt=now,
            ends_at__lte=now + timedelta(minutes=minutes),
        )
        .order_by("ends_at")
        .values_list("pk", flat=True)[:limit]
    )


def auctions_visible() -> QuerySet[Auction]:
    return Auction.objects.filter(is_hidden=False)
