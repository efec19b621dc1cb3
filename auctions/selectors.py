"""Reads about auctions. `auction_public_state` is the one function that builds the numbers a
page shows, the WebSocket snapshot and every live `state` message."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from auctions.locks import LockedAuction, auction_row_lock
from auctions.models import Auction, Bid
from auctions.rules import mask_name, min_next_bid
from neighborbid.errors import AuctionNotFound

if TYPE_CHECKING:
    from django.db.models.expressions import RawSQL

    from accounts.models import User
    from auctions.locks import BidAuction
    from auctions.models import AuctionPhoto
    from notifications.models import Notification

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


def auction_min_next_bid(auction: BidAuction) -> int:
    return min_next_bid(current_price=auction.current_price, has_bids=auction.leader_id is not None)


def leader_tag(*, auction_id: int, user_id: int | None) -> str | None:
    """An opaque per-auction tag for a user: a client compares the state's `leader_tag` with
    its own (given in its snapshot) to know whether it leads, without user ids going public."""
    if user_id is None:
        return None
    digest = hmac.new(settings.SECRET_KEY.encode(), f"lead:{auction_id}:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def auction_public_state(
    auction: BidAuction,
    *,
    recent_bids: list[RecentBid] | None = None,
    leader_name: str | None = None,
    now: datetime | None = None,
) -> PublicState:
    """The whole public state of one auction, as a plain JSON-able dict."""
    if recent_bids is None:
        recent_bids = list(auction.recent_bids or [])
    if leader_name is None and auction.leader_id is not None:
        latest = recent_bids[0] if recent_bids else None
        if (
            latest is not None
            and latest["amount"] == auction.current_price
            and auction.end_reason != Auction.EndReason.BUY_NOW
        ):
            # The leader placed the latest bid: their name as it was then (masking is
            # idempotent), the same as the `state` of that bid carried.
            leader_name = latest["bidder"]
        elif isinstance(auction, Auction):
            leader = cast("User", auction.leader)  # leader_id is set, so the row is there
            leader_name = leader.nickname or leader.username
        else:  # the hot path's row: its callers always pass the leader's name
            raise TypeError("auction_public_state needs leader_name for a LockedAuction")
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


def auction_bid_terms(*, auction_id: int) -> LockedAuction | None:
    """What a bid form's checks read (price, leader, buy-now price, hidden), as one plain
    statement with no lock: no model instance, no ORM compile (the HTTP bid's hot path spent
    a quarter of its CPU loading the whole auction for this). None: no such auction."""
    try:
        return auction_row_lock(auction_id=auction_id, for_update=False)
    except AuctionNotFound:
        return None


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

# Price and bid-count order by the sort keys (Auction.sort_price / sort_bids: a busy auction's
# may trail its live price by up to a second or one worker pass; the cards show the live one).
SORTS = {
    "ending": ("ends_at", "id"),
    "newest": ("-created_at", "-id"),
    "price": ("sort_price", "id"),
    "price_desc": ("-sort_price", "-id"),
    "bids": ("-sort_bids", "ends_at", "id"),
}
DEFAULT_SORT = "ending"


def _with_thumbnail(qs: QuerySet[Auction]) -> QuerySet[Auction]:
    """Each row carries its first photo's thumbnail path, its neighbourhood and its seller's
    매너온도 (`seller_temperature`), in one query."""
    from django.db.models import F, OuterRef, Subquery

    from auctions.models import AuctionPhoto

    first_thumb = AuctionPhoto.objects.filter(auction=OuterRef("pk")).order_by("position", "id").values("thumbnail")[:1]
    return qs.select_related("neighbourhood").annotate(
        thumb=Subquery(first_thumb), seller_temperature=F("seller__manner_temperature")
    )


def _bigram_prefilter(term: str) -> RawSQL:
    """All two-character pieces of `term` among those of the row (migration 0005's GIN index)."""
    from django.db.models import BooleanField
    from django.db.models.expressions import RawSQL

    sql = """nb_bigrams(upper("auctions_auction"."title" || ' ' || "auctions_auction"."description"))"""
    return RawSQL(sql + " @> nb_bigrams(upper(%s))", [term], output_field=BooleanField())  # noqa: S611 (constant SQL, term bound)


def _open_list(
    *,
    national: bool,
    neighbourhood_ids: list[int] | None,
    q: str,
    category: str,
    sort: str,
    now: datetime | None,
) -> QuerySet[Auction]:
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
        if len(q) == 2 and connection.vendor == "postgresql":
            # no trigram in two characters: the bigram index of migration 0005 narrows first
            qs = qs.filter(_bigram_prefilter(q))
    if category:
        qs = qs.filter(category=category)
    return qs.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


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
    (served by the upper() trigram indexes of migration 0002 on PostgreSQL for terms of three
    characters or more; shorter terms filter the sorted scan)."""
    return _with_thumbnail(
        _open_list(national=national, neighbourhood_ids=neighbourhood_ids, q=q, category=category, sort=sort, now=now)
    )


LIST_PAGE_SIZE = 20
LIST_MAX_PAGES = 50  # 1,000 auctions deep: past that, narrow the search (no OFFSET over 100k rows)
# What a card shows (templates/auctions/_card.html); the rest (description, recent_bids...) stays out.
CARD_FIELDS = (
    "id",
    "title",
    "status",
    "is_national",
    "is_hidden",
    "neighbourhood",
    "current_price",
    "buy_now_price",
    "bid_count",
    "ends_at",
    "neighbourhood__name",
)


@dataclass(frozen=True)
class ListPage:
    """One page of a list without a total count (no COUNT(*) over every open auction): the
    page's rows and whether another page follows. Quacks like Django's Page for templates;
    `next_cursor` / `prev_cursor` are the ids the 다음 / 이전 links carry (keyset pagination)."""

    object_list: list[Auction]
    number: int
    more: bool

    def has_next(self) -> bool:
        return self.more

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.more or self.number > 1

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_cursor(self) -> int | None:
        return self.object_list[-1].pk if self.object_list else None

    @property
    def prev_cursor(self) -> int | None:
        """None when the previous page is the first (its link carries no cursor)."""
        return self.object_list[0].pk if self.object_list and self.number > 2 else None


def list_page_number(raw: str | None) -> int:
    """A page number from the query string: 1 for anything odd. Without a cursor (a typed or
    old link) at most LIST_MAX_PAGES, read by OFFSET; with one, only the number shown."""
    try:
        number = int(raw or 1)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), 100_000)


def list_cursor(raw: str | None) -> int | None:
    """An auction id from the query string (the 다음/이전 link's cursor), or None."""
    if raw is None or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw) or None


def _beyond(order: tuple[str, ...], anchor: dict[str, Any], *, forward: bool) -> Q:
    """Rows after (forward) or before the anchor row in `order` (keyset pagination): for
    (a, b, id) the rows with a beyond, or a equal and b beyond, or a and b equal and id beyond.
    The first key is also bounded non-strictly, so the index scan starts at the anchor instead
    of filtering from the top of the list."""
    condition = Q()
    equal: dict[str, Any] = {}
    for field in order:
        name = field.lstrip("-")
        op = "lt" if field.startswith("-") == forward else "gt"
        condition |= Q(**equal, **{f"{name}__{op}": anchor[name]})
        equal[name] = anchor[name]
    first = order[0].lstrip("-")
    bound = "lte" if order[0].startswith("-") == forward else "gte"
    return Q(**{f"{first}__{bound}": anchor[first]}) & condition


def auction_list_page(
    *,
    national: bool,
    neighbourhood_ids: list[int] | None = None,
    q: str = "",
    category: str = "",
    sort: str = DEFAULT_SORT,
    page: int = 1,
    after: int | None = None,
    before: int | None = None,
    page_size: int = LIST_PAGE_SIZE,
    now: datetime | None = None,
) -> ListPage:
    """One page of `auction_list` in two short queries: the page's ids (one more to know if a
    next page exists; an index-only scan of the 0005 partial indexes), then the card columns
    and first thumbnail of those rows only (the thumbnail subquery never runs for skipped
    rows).

    With a cursor (`after`: the last id of the page before; `before`: the first id of the page
    after) the ids are read from the cursor's position in the sort order (keyset pagination:
    page 500 costs what page 1 costs). Without one, the page is read by OFFSET, at most
    LIST_MAX_PAGES deep (old and typed links)."""
    base = _open_list(
        national=national, neighbourhood_ids=neighbourhood_ids, q=q, category=category, sort=sort, now=now
    )
    order = SORTS.get(sort, SORTS[DEFAULT_SORT])
    cursor = after or before
    anchor = None
    if cursor is not None:
        anchor = Auction.objects.filter(pk=cursor).values(*(f.lstrip("-") for f in order)).first()
    if anchor is None:
        page = min(max(page, 1), LIST_MAX_PAGES)
    # Prepared statements (settings: server-side binding) switch to a generic plan after five
    # runs; a generic plan cannot see the search term or the size of the 동 list and picked
    # full scans (search p50 18 ms -> 700 ms at 100k rows). Those lists are planned each run.
    custom_plan = connection.vendor == "postgresql" and bool((q or "").strip() or neighbourhood_ids)
    with transaction.atomic() if custom_plan else nullcontext():
        if custom_plan:
            with connection.cursor() as db_cursor:
                db_cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        if anchor is None:
            offset = (page - 1) * page_size
            ids = list(base.values_list("pk", flat=True)[offset : offset + page_size + 1])
            more = len(ids) > page_size and page < LIST_MAX_PAGES
            ids = ids[:page_size]
        elif after is not None:
            ids = list(base.filter(_beyond(order, anchor, forward=True)).values_list("pk", flat=True)[: page_size + 1])
            more = len(ids) > page_size
            ids = ids[:page_size]
        else:
            backwards = tuple(f[1:] if f.startswith("-") else "-" + f for f in order)
            ids = list(
                base.filter(_beyond(order, anchor, forward=False))
                .order_by(*backwards)
                .values_list("pk", flat=True)[: page_size + 1]
            )
            if len(ids) <= page_size:
                page = 1  # nothing before these: this is the first page now
            ids = ids[:page_size][::-1]
            more = True
    page = max(page, 1)
    if not ids:
        return ListPage(object_list=[], number=page, more=False)
    rows = _with_thumbnail(Auction.objects.filter(pk__in=ids)).only(*CARD_FIELDS).order_by()
    by_id = {row.pk: row for row in rows}
    return ListPage(object_list=[by_id[pk] for pk in ids if pk in by_id], number=page, more=more)


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
    from notifications.models import Notification

    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def user_notifications(*, user_id: int) -> QuerySet[Notification]:
    from notifications.models import Notification

    return Notification.objects.filter(user_id=user_id).select_related("auction").order_by("-id")


def auction_photos(*, auction_id: int) -> list[AuctionPhoto]:
    from auctions.models import AuctionPhoto

    return list(AuctionPhoto.objects.filter(auction_id=auction_id).order_by("position", "id"))


def user_watches(*, user_id: int, auction_id: int) -> bool:
    from auctions.models import Watch

    return Watch.objects.filter(user_id=user_id, auction_id=auction_id).exists()


def bid_requests_seen(*, keys: Collection[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of these (user id, request id) pairs were used for a bid before? One statement on
    the unique index bid_unique_request (both columns in lists: the rows found are checked
    against the pairs, since the lists also match pairs nobody asked about), as a plain
    statement: a live door asks this before early refusals in a drop, where the ORM's
    compile was a third of the money threads' time (issue 19). Sockets of one process ask
    together (auctions.consumers: the early refusals' twin checks)."""
    wanted = set(keys)
    if not wanted:
        return set()
    users = sorted({user_id for user_id, _ in wanted})
    requests = sorted({request_id for _, request_id in wanted})
    sql = (
        f"SELECT bidder_id, client_request_id FROM {Bid._meta.db_table} "  # noqa: S608 (table from meta)
        f"WHERE bidder_id IN ({', '.join(['%s'] * len(users))}) "
        f"AND client_request_id IN ({', '.join(['%s'] * len(requests))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*users, *requests])
        found = {(int(user_id), request_id) for user_id, request_id in cursor.fetchall()}
    return found & wanted


# --- max bidding: the history, the chart, one's own maximum ---------------------------------


def bid_history(*, auction_id: int, viewer_id: int | None) -> QuerySet[Bid]:
    """Every bid of an auction, newest first, for the history page: automatic bids included
    (marked), a leader's raise of their own maximum only for that leader. Maxima are never in
    the rows shown (the template shows amounts and kinds)."""
    from django.db.models import Q

    qs = Bid.objects.filter(auction_id=auction_id).select_related("bidder")
    visible = ~Q(kind=Bid.Kind.RAISE)
    if viewer_id is not None:
        visible |= Q(kind=Bid.Kind.RAISE, bidder_id=viewer_id)
    return qs.filter(visible).order_by("-id")


def price_points(*, auction_id: int, limit: int = 200) -> list[tuple[str, int]]:
    """(time, price) after each price change, oldest first: the price chart's points."""
    rows = (
        Bid.objects.filter(auction_id=auction_id)
        .exclude(kind=Bid.Kind.RAISE)
        .order_by("-id")
        .values_list("created_at", "amount")[:limit]
    )
    return [(at.isoformat(), amount) for at, amount in reversed(rows)]


def _chart_time(moment: datetime, *, with_day: bool) -> str:
    local = timezone.localtime(moment)
    return f"{local.month}.{local.day} {local:%H:%M}" if with_day else f"{local:%H:%M}"


def price_chart_svg(points: list[tuple[str, int]], *, width: int = 320, height: int = 120) -> str:
    """The price over time, dependency-free: an SVG line with a baseline and a dot per price, the
    highest and lowest price on its left, the first and last time below it (issue 18 #18). Always
    the whole figure (hidden below two prices), so the live page only fills it in
    (static/js/live.js renderChart: the same scaling and labels)."""
    from django.utils.html import format_html

    if len(points) < 2:
        return format_html(
            '<figure class="price-chart__figure" data-chart="figure" hidden>'
            '<div class="price-chart__plot"><svg class="price-chart__svg" viewBox="0 0 {} {}" role="img" aria-label="">'
            '<line class="price-chart__axis" x1="0" y1="{}" x2="{}" y2="{}"/>'
            '<polyline fill="none" stroke="currentColor" stroke-width="2" points=""/></svg>'
            '<span class="price-chart__y price-chart__y--max" data-chart="ymax"></span>'
            '<span class="price-chart__y price-chart__y--min" data-chart="ymin"></span></div>'
            '<figcaption class="price-chart__x"><time data-chart="t0"></time><time data-chart="t1"></time>'
            "</figcaption></figure>",
            width,
            height,
            height - 1,
            width,
            height - 1,
        )
    moments = [datetime.fromisoformat(t) for t, _ in points]
    times = [m.timestamp() for m in moments]
    prices = [p for _, p in points]
    t0, t1 = min(times), max(times)
    p0, p1 = min(prices), max(prices)
    span_t, span_p = (t1 - t0) or 1.0, (p1 - p0) or 1
    coords = [
        (round((t - t0) / span_t * (width - 8) + 4, 1), round(height - 4 - (p - p0) / span_p * (height - 8), 1))
        for t, p in zip(times, prices, strict=True)
    ]
    xy = " ".join(f"{x},{y}" for x, y in coords)
    first, last = min(moments), max(moments)
    with_day = timezone.localtime(first).date() != timezone.localtime(last).date()
    return format_html(
        '<figure class="price-chart__figure" data-chart="figure">'
        '<div class="price-chart__plot"><svg class="price-chart__svg" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<line class="price-chart__axis" x1="0" y1="{}" x2="{}" y2="{}"/>'
        '<polyline fill="none" stroke="currentColor" stroke-width="2" points="{}"/></svg>'
        '<span class="price-chart__y price-chart__y--max" data-chart="ymax">{}</span>'
        '<span class="price-chart__y price-chart__y--min" data-chart="ymin">{}</span></div>'
        '<figcaption class="price-chart__x"><time data-chart="t0" datetime="{}">{}</time>'
        '<time data-chart="t1" datetime="{}">{}</time></figcaption></figure>',
        width,
        height,
        f"가격 변화: {_price_label(prices)}",
        height - 1,
        width,
        height - 1,
        xy,
        f"{p1:,}원",
        f"{p0:,}원",
        first.isoformat(),
        _chart_time(first, with_day=with_day),
        last.isoformat(),
        _chart_time(last, with_day=with_day),
    )


def _price_label(prices: list[int]) -> str:
    return f"{prices[0]:,}원에서 {prices[-1]:,}원까지"


def user_max_for(*, auction: Auction, user_id: int | None) -> int | None:
    """The viewer's own maximum while they lead (never anyone else's)."""
    if user_id is None or auction.leader_id != user_id:
        return None
    return auction.leader_max if auction.leader_max is not None else auction.current_price


def auction_bid_log(*, auction: Auction) -> dict[str, Any]:
    """The auction's bid log as anyone may check it (issue 24, auctions/bidlog.py): every leaf
    (seq, kind, canonical body, hash) in order, the head, and the pseudonyms' salt once the
    auction has ended. The same data the verify page recomputes and neighborbid/verify.py reads."""
    from auctions.models import BidLogLeaf

    leaves = BidLogLeaf.objects.filter(auction_id=auction.pk).order_by("seq").values_list("seq", "kind", "body", "hash")
    return {
        "auction": auction.pk,
        "title": auction.title,
        "status": auction.status,
        "head": auction.log_head,
        "salt": auction.log_salt if auction.is_ended else None,
        "leaves": [{"seq": seq, "kind": kind, "body": body, "hash": digest} for seq, kind, body, digest in leaves],
    }
