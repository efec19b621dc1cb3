"""Reads about auctions. `auction_public_state` is the one function that builds the numbers a
page shows, the WebSocket snapshot and every live `state` message."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from auctions.models import Auction, Bid
from auctions.rules import mask_name, min_next_bid

if TYPE_CHECKING:
    from auctions.models import AuctionPhoto, Notification

RECENT_BIDS = 5


class RecentBid(TypedDict):
    amount: int
    bidder: str
    at: str


class PublicState(TypedDict):
    """The wire shape of an auction's whole public state: the page's initial numbers, the
    WebSocket snapshot and every live `state` message (docs/protocol.md)."""

    type: str
    auction_id: int
    seq: int
    status: str
    end_reason: str | None
    is_national: bool
    current_price: int
    min_next_bid: int
    buy_now_price: int | None
    bid_count: int
    leader: str | None
    leader_tag: str | None
    starts_at: str
    ends_at: str
    server_time: str
    recent_bids: list[RecentBid]


def auction_min_next_bid(auction: Auction) -> int:
    return min_next_bid(current_price=auction.current_price, has_bids=auction.leader_id is not None)


def leader_tag(*, auction_id: int, user_id: int | None) -> str | None:
    """An opaque per-auction tag for a user: a client compares the state's `leader_tag` with
    its own (given in its snapshot) to know whether it leads, without user ids going public."""
    if user_id is None:
        return None
    digest = hmac.new(settings.SECRET_KEY.encode(), f"lead:{auction_id}:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def auction_recent_bids(*, auction_id: int, limit: int = RECENT_BIDS) -> list[RecentBid]:
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
    recent_bids: list[RecentBid] | None = None,
    leader_name: str | None = None,
    now: datetime | None = None,
) -> PublicState:
    """The whole public state of one auction, as a plain JSON-able dict."""
    if recent_bids is None:
        recent_bids = list(auction.recent_bids or [])
    leader = auction.leader if leader_name is None and auction.leader_id is not None else None
    if leader is not None:
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
        # scheduled too: an auction whose whole window passed while no worker ran ends here
        Auction.objects.filter(status__in=[Auction.Status.OPEN, Auction.Status.SCHEDULED], ends_at__lte=now)
        .order_by("ends_at")
        .values_list("pk", flat=True)[:limit]
    )


def auctions_ending_soon_unnotified(*, now: datetime | None = None, minutes: float = 10, limit: int = 100) -> list[int]:
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


# --- list reads for the pages (home, my page, watchlist) ---------------------------------

SORTS = {
    "ending": ("ends_at", "id"),
    "newest": ("-created_at", "-id"),
    "price": ("current_price", "id"),
    "price_desc": ("-current_price", "-id"),
    "bids": ("-bid_count", "ends_at", "id"),
}
DEFAULT_SORT = "ending"


def _with_thumbnail(qs: QuerySet[Auction]) -> QuerySet[Auction]:
    """Each row carries its first photo's thumbnail path and its neighbourhood, in one query."""
    from django.db.models import OuterRef, Subquery

    from auctions.models import AuctionPhoto

    first_thumb = AuctionPhoto.objects.filter(auction=OuterRef("pk")).order_by("position", "id").values("thumbnail")[:1]
    return qs.select_related("neighbourhood").annotate(thumb=Subquery(first_thumb))


def auction_list(
    *,
    national: bool,
    neighbourhood_ids: list[int] | None = None,
    q: str = "",
    category: str = "",
    sort: str = DEFAULT_SORT,
    now: datetime | None = None,
) -> QuerySet[Auction]:
    """Open, visible auctions for the home page. `neighbourhood_ids` limits a local list to the
    viewer's range (None: every neighbourhood). Search is icontains on title and description
    (served by the upper() trigram indexes of migration 0002 on PostgreSQL)."""
    from django.db.models import Q

    now = now or timezone.now()
    qs = Auction.objects.filter(
        is_hidden=False, is_national=national, status=Auction.Status.OPEN, ends_at__gt=now, starts_at__lte=now
    )
    if neighbourhood_ids is not None and not national:
        qs = qs.filter(neighbourhood_id__in=neighbourhood_ids)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(description__icontains=q))
    if category:
        qs = qs.filter(category=category)
    return _with_thumbnail(qs).order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


BID_FILTERS = ("all", "leading", "outbid", "won", "lost")


def user_bid_auctions(*, user_id: int, which: str = "all") -> QuerySet[Auction]:
    """Auctions the user bid on, each annotated with `my_max_bid`. `which`: leading (open, I
    lead), outbid (open, someone else leads), won (sold to me), lost (ended, not mine)."""
    from django.db.models import Max, OuterRef, Q, Subquery

    mine = Bid.objects.filter(bidder_id=user_id)
    my_max = (
        Bid.objects.filter(auction=OuterRef("pk"), bidder_id=user_id)
        .order_by()
        .values("auction")
        .annotate(m=Max("amount"))
        .values("m")[:1]
    )
    qs = Auction.objects.filter(pk__in=mine.values("auction_id")).annotate(my_max_bid=Subquery(my_max))
    live = Q(status__in=[Auction.Status.OPEN, Auction.Status.SCHEDULED])
    if which == "leading":
        qs = qs.filter(live, leader_id=user_id)
    elif which == "outbid":
        qs = qs.filter(live).exclude(leader_id=user_id)
    elif which == "won":
        qs = qs.filter(status=Auction.Status.SOLD, winner_id=user_id)
    elif which == "lost":
        qs = qs.filter(status__in=Auction.ENDED_STATUSES).exclude(winner_id=user_id)
    return _with_thumbnail(qs).order_by("-ends_at", "-id")


def user_listings(*, user_id: int) -> QuerySet[Auction]:
    return _with_thumbnail(Auction.objects.filter(seller_id=user_id)).order_by("-created_at", "-id")


def user_watchlist(*, user_id: int) -> QuerySet[Auction]:
    from django.db.models import OuterRef, Subquery

    from auctions.models import Watch

    mine = Watch.objects.filter(user_id=user_id)
    watched_at = mine.filter(auction=OuterRef("pk")).values("created_at")[:1]
    qs = Auction.objects.filter(pk__in=mine.values("auction_id"), is_hidden=False)
    return _with_thumbnail(qs).annotate(watched_at=Subquery(watched_at)).order_by("-watched_at", "-id")


def user_won(*, user_id: int) -> QuerySet[Auction]:
    return _with_thumbnail(Auction.objects.filter(winner_id=user_id, status=Auction.Status.SOLD)).order_by(
        "-ended_at", "-id"
    )


def unread_notification_count(*, user_id: int) -> int:
    from auctions.models import Notification

    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def user_notifications(*, user_id: int) -> QuerySet[Notification]:
    from auctions.models import Notification

    return Notification.objects.filter(user_id=user_id).select_related("auction").order_by("-id")


def auction_photos(*, auction_id: int) -> list[AuctionPhoto]:
    from auctions.models import AuctionPhoto

    return list(AuctionPhoto.objects.filter(auction_id=auction_id).order_by("position", "id"))


def user_watches(*, user_id: int, auction_id: int) -> bool:
    from auctions.models import Watch

    return Watch.objects.filter(user_id=user_id, auction_id=auction_id).exists()


def bid_request_seen(*, user_id: int, request_id: str) -> bool:
    """Was this request id used by this user before? One indexed lookup (bid_unique_request)."""
    return Bid.objects.filter(bidder_id=user_id, client_request_id=request_id).exists()
