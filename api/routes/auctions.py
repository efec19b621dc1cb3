"""Auctions: the list (the home page's filters, sort and keyset cursor), one auction, its bid
history, and the two money calls (bid with an optional maximum, buy-now), idempotent by the
`Idempotency-Key` header, which is the services' request id."""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from accounts.models import User
from accounts.selectors import neighbourhood_distance_km, neighbourhood_distances_within
from api.auth import actor, optional_user, rate_limit
from api.routes.common import IDEMPOTENCY_KEY, neighbourhood_out
from api.schemas import (
    AuctionCard,
    AuctionCreateIn,
    AuctionEditIn,
    AuctionOut,
    AuctionPage,
    BidIn,
    BidOut,
    BidPage,
    BidRow,
    BuyNowOut,
    CancelIn,
    ReceiptOut,
    ReportIn,
    ReportOut,
    SellerOut,
    StateOut,
    WatchOut,
    problems,
)
from auctions import admission, selectors
from auctions.models import Auction
from auctions.rules import mask_name
from auctions.services import (
    auction_buy_now,
    auction_cancel,
    auction_create,
    auction_end_early,
    auction_photos_add,
    auction_update,
    bid_place,
    report_create,
    watch_set,
)
from neighborbid.errors import AuctionNotFound
from neighborbid.replica import standby_read

router = Router(tags=["auctions"])
watchlist_router = Router(tags=["auctions"])

PAGE_SIZE = 20
BIGINT_MAX = 2**63 - 1  # a cursor is an id
Sort = Literal[tuple(selectors.SORTS)]  # type: ignore[valid-type]  # the pages' sorts, whatever they become


class AuctionFilters(Schema):
    tab: Literal["local", "national"] = "local"
    q: str = Field("", max_length=100)
    category: Literal[tuple(Auction.Category.values)] | Literal[""] = ""  # type: ignore[valid-type]
    sort: Sort = selectors.DEFAULT_SORT  # type: ignore[valid-type]  # a Literal built from SORTS
    km: Literal[1, 3, 5, 10] | None = Field(None, description="내 근처: 내 동네에서 1/3/5/10km (없으면 내 동네 범위)")
    after: int | None = Field(None, ge=1, le=BIGINT_MAX, description="다음 쪽 커서 (next_cursor)")
    before: int | None = Field(None, ge=1, le=BIGINT_MAX, description="이전 쪽 커서 (prev_cursor)")


def _float(value: object) -> float | None:
    return float(value) if value is not None else None  # type: ignore[arg-type]  # a Decimal annotation


def _media(path: str | None) -> str | None:
    return f"{settings.MEDIA_URL}{path}" if path else None


def _visible(request: HttpRequest, auction_id: int, viewer: User | None) -> Auction:
    auction = selectors.auction_get(auction_id=auction_id)
    if auction is None or (auction.is_hidden and not (viewer is not None and viewer.is_staff)):
        raise AuctionNotFound()
    return auction


def _card(a: Auction, distances: dict[int, float]) -> AuctionCard:
    return AuctionCard(
        id=a.pk,
        title=a.title,
        status=a.status,
        is_national=a.is_national,
        neighbourhood=a.neighbourhood.name if a.neighbourhood_id and a.neighbourhood else None,
        distance_km=round(distances[a.neighbourhood_id], 1) if a.neighbourhood_id in distances else None,
        current_price=a.current_price,
        buy_now_price=a.buy_now_price,
        bid_count=a.bid_count,
        ends_at=a.ends_at,
        thumbnail_url=_media(getattr(a, "thumb", None)),
        seller_temperature=_float(getattr(a, "seller_temperature", None)),
    )


@router.get("", auth=None, response={200: AuctionPage, **problems(401, 422)}, summary="경매 목록")
def auction_list(request: HttpRequest, filters: Query[AuctionFilters]):
    """The home page's list: the local tab lists my range (or `km` around my 동) when signed in
    and every 동 otherwise; the national tab all live national auctions. Cursor pages."""
    viewer = optional_user(request)
    return standby_read(request, viewer, _auction_list, filters, viewer)  # may read the standby


def _auction_list(filters: AuctionFilters, viewer: User | None) -> AuctionPage:
    origin = viewer.neighbourhood if viewer is not None and viewer.neighbourhood_id else None
    distances: dict[int, float] = {}
    neighbourhood_ids = None
    if filters.tab == "local" and origin is not None and viewer is not None:
        distances = neighbourhood_distances_within(origin=origin, radius_km=filters.km or viewer.search_radius_km)
        neighbourhood_ids = list(distances)
    page = selectors.auction_list_page(
        national=filters.tab == "national",
        neighbourhood_ids=neighbourhood_ids,
        q=filters.q.replace("\x00", "").strip(),
        category=filters.category,
        sort=filters.sort,
        after=filters.after,
        before=filters.before,
        page_size=PAGE_SIZE,
    )
    items = [_card(a, distances) for a in page.object_list]
    return AuctionPage(
        items=items, next_cursor=page.next_cursor if page.has_next() else None, prev_cursor=page.prev_cursor
    )


@router.get("/{auction_id}", auth=None, response={200: AuctionOut, **problems(401, 404, 422)}, summary="경매 상세")
def auction_detail(request: HttpRequest, auction_id: int):
    viewer = optional_user(request)
    return standby_read(request, viewer, _auction_detail, request, auction_id, viewer)  # may read the standby


def _auction_detail(request: HttpRequest, auction_id: int, viewer: User | None) -> AuctionOut:
    auction = _visible(request, auction_id, viewer)
    state = selectors.auction_public_state(auction)
    you_tag = selectors.leader_tag(auction_id=auction.pk, user_id=viewer.pk) if viewer is not None else None
    distance = None
    if not auction.is_national and viewer is not None and viewer.neighbourhood and auction.neighbourhood:
        distance = round(neighbourhood_distance_km(viewer.neighbourhood, auction.neighbourhood), 1)
    seller = auction.seller
    return AuctionOut(
        id=auction.pk,
        title=auction.title,
        description=auction.description,
        category=auction.category,
        condition=auction.condition,
        is_national=auction.is_national,
        neighbourhood=neighbourhood_out(auction.neighbourhood) if auction.neighbourhood else None,
        distance_km=distance,
        seller=SellerOut(id=seller.pk, nickname=seller.nickname, manner_temperature=float(seller.manner_temperature)),
        photos=[_media(photo.image.name) or "" for photo in selectors.auction_photos(auction_id=auction.pk)],
        min_manner_temperature=float(auction.min_manner_temperature) if auction.min_manner_temperature else None,
        state=StateOut.model_validate(state),
        you_lead=bool(you_tag) and state["leader_tag"] == you_tag,
        your_max=selectors.user_max_for(auction=auction, user_id=viewer.pk if viewer is not None else None),
        watching=viewer is not None and selectors.user_watches(user_id=viewer.pk, auction_id=auction.pk),
    )


@router.get("/{auction_id}/bids", auth=None, response={200: BidPage, **problems(401, 404, 422)}, summary="입찰 기록")
def auction_bids(request: HttpRequest, auction_id: int, before: Query[int | None] = None):
    """Every bid, newest first, names masked, automatic bids marked; a leader's raise of their own
    maximum only for that leader; maxima never."""
    viewer = optional_user(request)
    return standby_read(request, viewer, _auction_bids, request, auction_id, before, viewer)  # may read the standby


def _auction_bids(request: HttpRequest, auction_id: int, before: int | None, viewer: User | None) -> BidPage:
    auction = _visible(request, auction_id, viewer)
    viewer_id = viewer.pk if viewer is not None else None
    rows = selectors.bid_history(auction_id=auction.pk, viewer_id=viewer_id)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    return BidPage(
        items=[
            BidRow(
                id=b.pk,
                amount=b.amount,
                bidder=mask_name(b.bidder.display_name),
                kind=b.kind,
                at=b.created_at,
                mine=viewer_id is not None and b.bidder_id == viewer_id,
            )
            for b in page
        ],
        next_cursor=page[-1].pk if more else None,
    )


@router.post(
    "/{auction_id}/bids",
    response={201: BidOut, **problems(400, 401, 403, 404, 409, 422, 429, 503)},
    summary="입찰 (최대 입찰가 선택)",
)
def bid_create(request: HttpRequest, auction_id: int, data: BidIn, idempotency_key: IDEMPOTENCY_KEY):
    """Bid `amount`, optionally with `max_amount` (the system bids for you up to it, one ladder
    step at a time; the whole maximum is held while you lead). The same Idempotency-Key with the
    same body answers the first bid again (`duplicate: true`, the state as of now); with another
    body: 422 duplicate_request. Refusals: bid_too_low (with min_next_bid), insufficient_funds,
    use_buy_now, own_auction, not_eligible, auction_not_open, …"""
    user = actor(request)
    rate_limit(request, "bid", user=user)
    with admission.bid_admitted(auction_id=auction_id):  # past the bound: Overloaded, a 503
        result = bid_place(
            auction_id=auction_id,
            actor=user,
            amount=data.amount,
            max_amount=data.max_amount,
            request_id=idempotency_key,
        )
    return Status(
        201,
        BidOut(
            bid_id=result.bid.pk,
            amount=result.bid.amount,
            duplicate=result.duplicate,
            leading=result.leading,
            your_max=result.my_max,
            receipt=ReceiptOut(**result.receipt) if result.receipt else None,
            state=StateOut.model_validate(result.state),
        ),
    )


@router.post(
    "/{auction_id}/buy-now",
    response={201: BuyNowOut, **problems(400, 401, 403, 404, 409, 422, 429, 503)},
    summary="즉시구매",
)
def buy_now(request: HttpRequest, auction_id: int, idempotency_key: IDEMPOTENCY_KEY):
    """Buy at the buy-now price; the money goes into the trade's escrow. Idempotent like a bid."""
    user = actor(request)
    rate_limit(request, "bid", user=user)
    with admission.bid_admitted(auction_id=auction_id):
        result = auction_buy_now(auction_id=auction_id, actor=user, request_id=idempotency_key)
    return Status(
        201,
        BuyNowOut(
            auction_id=result.auction.pk,
            price=result.auction.current_price,
            duplicate=result.duplicate,
            state=StateOut.model_validate(result.state),
        ),
    )


# --- watchlist ---------------------------------------------------------------------------------


@router.put("/{auction_id}/watch", response={200: WatchOut, **problems(401, 404)}, summary="찜하기")
def watch(request: HttpRequest, auction_id: int):
    """Idempotent: watching twice is watching."""
    return WatchOut(watching=watch_set(actor=actor(request), auction_id=auction_id, watching=True))


@router.delete("/{auction_id}/watch", response={200: WatchOut, **problems(401)}, summary="찜 해제")
def unwatch(request: HttpRequest, auction_id: int):
    return WatchOut(watching=watch_set(actor=actor(request), auction_id=auction_id, watching=False))


@watchlist_router.get("", response={200: list[AuctionCard], **problems(401)}, summary="관심 목록")
def watchlist(request: HttpRequest):
    """My watched auctions, the latest watched first (at most 100)."""
    rows = selectors.user_watchlist(user_id=actor(request).pk)[:100]
    return [_card(a, {}) for a in rows]


# --- selling -----------------------------------------------------------------------------------


@router.post("", response={201: AuctionOut, **problems(400, 401, 403, 422)}, summary="경매 등록")
def auction_create_(request: HttpRequest, data: AuctionCreateIn):
    """List an item (photos: on the listing page for now). The rules (prices, duration, 동 trust,
    매너온도 only on local auctions) are the listing service's."""
    from datetime import timedelta
    from decimal import Decimal

    user = actor(request)
    auction = auction_create(
        actor=user,
        title=data.title,
        description=data.description,
        category=data.category,
        condition=data.condition,
        start_price=data.start_price,
        buy_now_price=data.buy_now_price,
        # a number of hours far outside any allowed duration becomes one the service refuses
        # (timedelta itself overflows on a huge integer)
        duration=timedelta(hours=data.duration_hours) if 0 < data.duration_hours <= 10_000 else timedelta(0),
        is_national=data.is_national,
        min_manner_temperature=None
        if data.min_manner_temperature is None
        else Decimal(str(data.min_manner_temperature)),
    )
    return Status(201, auction_detail(request, auction.pk))


@router.patch(
    "/{auction_id}", response={200: AuctionOut, **problems(400, 401, 403, 404, 409, 422)}, summary="경매 수정"
)
def auction_edit(request: HttpRequest, auction_id: int, data: AuctionEditIn):
    """The seller edits while nobody has bid (409 has_bids after)."""
    changes = data.model_dump(exclude_unset=True)
    auction_update(auction_id=auction_id, actor=actor(request), **changes)
    return auction_detail(request, auction_id)


@router.post("/{auction_id}/cancel", response={200: AuctionOut, **problems(401, 403, 404, 409)}, summary="경매 취소")
def auction_cancel_(request: HttpRequest, auction_id: int, data: CancelIn):
    """The seller cancels while nobody has bid."""
    auction_cancel(auction_id=auction_id, actor=actor(request), reason=data.reason)
    return auction_detail(request, auction_id)


@router.post(
    "/{auction_id}/photos",
    response={200: AuctionOut, **problems(400, 401, 403, 404, 409, 413, 422)},
    summary="사진 올리기 (multipart)",
)
def photos_add(request: HttpRequest, auction_id: int, photos: File[list[UploadedFile]]):
    """multipart/form-data, field `photos` (repeat it for several; JPEG/PNG/WebP, at most 10 a
    listing). One bad file refuses them all and leaves nothing on disk (the listing service)."""
    auction_photos_add(auction_id=auction_id, actor=actor(request), files=photos)
    return auction_detail(request, auction_id)


@router.post("/{auction_id}/end", response={200: AuctionOut, **problems(401, 403, 404, 409)}, summary="조기 종료")
def auction_end(request: HttpRequest, auction_id: int):
    """The seller ends a listing nobody has bid on (it ends unsold)."""
    auction_end_early(auction_id=auction_id, actor=actor(request))
    return auction_detail(request, auction_id)


@router.post(
    "/{auction_id}/report", response={201: ReportOut, **problems(400, 401, 403, 404, 429)}, summary="경매 신고"
)
def auction_report(request: HttpRequest, auction_id: int, data: ReportIn):
    """For the moderators' queue; limited like the page (the `report` bucket)."""
    user = actor(request)
    _visible(request, auction_id, user)
    rate_limit(request, "report", user=user)
    report = report_create(actor=user, reason=data.reason, text=data.text, auction_id=auction_id)
    return Status(201, ReportOut(id=report.pk))
