"""Auction pages. Each view parses input, calls one service (or selector), and turns a
DomainError into a Korean message or a 4xx page. No rule is decided here."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import RadiusForm
from accounts.selectors import (
    neighbourhood_distance_km,
    neighbourhood_distances_within,
    user_location_verified,
)
from auctions import admission, selectors
from auctions.forms import AuctionEditForm, AuctionForm, BidForm, BuyNowForm, ReportForm
from auctions.models import Auction
from auctions.rules import CONFIRM_FACTOR, bid_needs_confirmation
from auctions.services import (
    auction_buy_now,
    auction_cancel,
    auction_create,
    auction_end_early,
    auction_photos_add,
    auction_update,
    bid_place,
    notification_mark_read,
    report_create,
    watch_toggle,
)
from neighborbid.errors import AuctionNotFound, DomainError, InvalidAmount, ServiceUnavailable
from neighborbid.replica import standby_reads
from wallets.amounts import parse_won

PAGE_SIZE = 20
NEAR_KM = ("1", "3", "5", "10")  # the home's "내 근처" filter


def _first_error(form) -> str:
    for errors in form.errors.values():
        if errors:
            return errors[0]
    return _("입력한 내용을 확인해 주세요.")


def _detail_url(pk: int) -> str:
    return reverse("auctions:detail", args=[pk])


def _domain_error_response(request, exc: DomainError, *, back: str):
    """A 404 for a missing auction, otherwise a message and a redirect back."""
    if isinstance(exc, AuctionNotFound):
        raise Http404(exc.message)
    messages.error(request, exc.message, extra_tags=exc.code)  # the code lets the page add a link (top-up)
    return redirect(back)


# --- home --------------------------------------------------------------------------------


@require_GET
@standby_reads  # public, read-only: may come from the standby (neighborbid/replica.py)
def home(request):
    user = request.user
    tab = "national" if request.GET.get("tab") == "national" else "local"
    q = (request.GET.get("q") or "").replace("\x00", "").strip()[:100]  # PostgreSQL refuses NUL
    category = request.GET.get("category") or ""
    if category not in Auction.Category.values:
        category = ""
    sort = request.GET.get("sort") or selectors.DEFAULT_SORT
    if sort not in selectors.SORTS:
        sort = selectors.DEFAULT_SORT

    origin = user.neighbourhood if user.is_authenticated and user.neighbourhood_id else None
    # the local tab lists (and shows distances to) only the 동 in range; the national tab none
    distances: dict[int, float] = {}
    neighbourhood_ids = None
    # "내 근처": 1, 3, 5 or 10 km around my 동 (?km=), else my range (3, 6 or 10 km)
    near_km = request.GET.get("km") or ""
    if near_km not in NEAR_KM:
        near_km = ""
    if tab == "local" and origin is not None:
        radius_km = int(near_km) if near_km else user.search_radius_km
        distances = neighbourhood_distances_within(origin=origin, radius_km=radius_km)
        neighbourhood_ids = list(distances)

    page = selectors.auction_list_page(
        national=tab == "national",
        neighbourhood_ids=neighbourhood_ids,
        q=q,
        category=category,
        sort=sort,
        page=selectors.list_page_number(request.GET.get("page")),
        after=selectors.list_cursor(request.GET.get("after")),
        before=selectors.list_cursor(request.GET.get("before")),
        page_size=PAGE_SIZE,
    )
    for auction in page.object_list:
        auction.distance_km = distances.get(auction.neighbourhood_id) if auction.neighbourhood_id else None

    params = request.GET.copy()
    for key in ("page", "after", "before"):
        params.pop(key, None)
    return render(
        request,
        "auctions/home.html",
        {
            "tab": tab,
            "q": q,
            "category": category,
            "sort": sort,
            "page": page,
            "origin": origin,
            "categories": Auction.Category.choices,
            "sorts": [
                ("ending", _("마감 임박순")),
                ("newest", _("최신순")),
                ("price", _("낮은 가격순")),
                ("price_desc", _("높은 가격순")),
                ("bids", _("입찰 많은순")),
            ],
            "radius_form": RadiusForm(initial={"radius_km": user.search_radius_km}) if user.is_authenticated else None,
            "query_string": params.urlencode(),
            "max_pages": selectors.LIST_MAX_PAGES,
            "near_km": near_km,
            "near_choices": NEAR_KM,
        },
    )


# --- one auction ---------------------------------------------------------------------------


def _can_see(request, pk: int) -> bool:
    try:
        _visible_auction(request, pk)
    except Http404:
        return False
    return True


def _visible_auction(request, pk: int) -> Auction:
    auction = selectors.auction_get(auction_id=pk)
    if auction is None:
        raise Http404(_("경매를 찾을 수 없어요."))
    if auction.is_hidden and not (request.user.is_authenticated and request.user.is_staff):
        raise Http404(_("경매를 찾을 수 없어요."))
    return auction


@require_GET
@standby_reads  # public, read-only: may come from the standby (neighborbid/replica.py)
def detail(request, pk: int):
    auction = _visible_auction(request, pk)
    user = request.user
    state = selectors.auction_public_state(auction)
    distance = None
    if (
        not auction.is_national
        and user.is_authenticated
        and user.neighbourhood_id
        and auction.neighbourhood is not None
    ):
        distance = neighbourhood_distance_km(user.neighbourhood, auction.neighbourhood)
    request_id = uuid.uuid4().hex
    typed = _typed_amounts(request.GET)
    you_tag = selectors.leader_tag(auction_id=auction.pk, user_id=user.pk) if user.is_authenticated else None
    context = {
        "auction": auction,
        "state": state,
        "photos": selectors.auction_photos(auction_id=auction.pk),
        "distance": distance,
        "request_id": request_id,
        "you_tag": you_tag or "",
        "you_lead": bool(you_tag) and state["leader_tag"] == you_tag,
        "is_seller": user.is_authenticated and auction.seller_id == user.pk,
        "watching": user.is_authenticated and selectors.user_watches(user_id=user.pk, auction_id=auction.pk),
        "verified": user_location_verified(user),
        "bid_form": BidForm(
            initial={"amount": typed.get("amount", f"{state['min_next_bid']:,}"), "request_id": request_id}
        ),
        "typed_max": typed.get("max_amount", ""),
        "my_max": selectors.user_max_for(auction=auction, user_id=user.pk if user.is_authenticated else None),
        "price_chart": selectors.price_chart_svg(points := selectors.price_points(auction_id=auction.pk)),
        "price_points_json": json.dumps(points),
        "price_chart_empty": len(points) < 2,
        "report_form": ReportForm(),
        "is_open": auction.status == Auction.Status.OPEN and not auction.is_hidden,
        # bid_needs_confirmation's parameters, for the live page's "이 금액이 맞나요?" (static/js/live.js)
        "confirm_factor": CONFIRM_FACTOR,
        "price_max": int(settings.NEIGHBORBID["PRICE_MAX"]),
        # the live page's bids go over the bid door (static/js/live.js, docs/realtime.md)
        "bid_door": user.is_authenticated and settings.REALTIME.get("BID_DOOR", True),
    }
    return render(request, "auctions/detail.html", context)


@require_GET
def state_json(request, pk: int):
    """The public state of an auction, the same PublicState as the live socket's (docs/web.md):
    local pages poll it to learn of bids, extensions and the end. Conditional: the ETag is
    the auction's seq, so an unchanged auction costs one indexed read and a 304."""
    row = Auction.objects.filter(pk=pk, is_hidden=False).values_list("seq", flat=True).first()
    if row is None:
        raise Http404(_("경매를 찾을 수 없어요."))
    etag = f'"{pk}-{row}"'
    if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponse(status=304)
    else:
        auction = selectors.auction_get(auction_id=pk)
        if auction is None or auction.is_hidden:
            raise Http404(_("경매를 찾을 수 없어요."))
        state = selectors.auction_public_state(auction)
        response = JsonResponse(state)
        etag = f'"{pk}-{state["seq"]}"'
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def unread_json(request):
    """The header badge's number, polled by every page about once a minute."""
    if not request.user.is_authenticated:
        response = JsonResponse({"signed_in": False, "unread": 0})
    else:
        response = JsonResponse(
            {"signed_in": True, "unread": selectors.unread_notification_count(user_id=request.user.pk)}
        )
    response["Cache-Control"] = "private, no-store"
    return response


def _typed_amounts(data) -> dict[str, str]:
    """The amounts a signed-out bid carried, formatted, only where they read as amounts."""
    kept = {}
    for name in ("amount", "max_amount"):
        try:
            kept[name] = f"{parse_won(data.get(name, '')):,}"
        except InvalidAmount:
            pass
    return kept


@require_POST
def bid(request, pk: int):
    if not request.user.is_authenticated:
        # Signed out in another tab: back to this page after login, with the typed amounts kept.
        kept = _typed_amounts(request.POST)
        messages.info(request, _("로그인이 풀렸어요. 다시 로그인하면 입력한 금액 그대로 입찰할 수 있어요."))
        return redirect_to_login(_detail_url(pk) + (f"?{urlencode(kept)}" if kept else ""))
    form = BidForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_detail_url(pk))
    amount, maximum = form.cleaned_data["amount"], form.cleaned_data["max_amount"]
    if not form.cleaned_data["confirmed"]:
        # A slip of a zero? Far above the minimum (or a maximum far above it): ask once more.
        # The terms are one plain read (no model, no ORM compile: the bid's hot path); the whole
        # auction is loaded only to show the confirmation page.
        terms = selectors.auction_bid_terms(auction_id=pk)
        if terms is None or (terms.is_hidden and not request.user.is_staff):
            raise Http404(_("경매를 찾을 수 없어요."))
        minimum = selectors.auction_min_next_bid(terms)
        if bid_needs_confirmation(
            amount=amount,
            maximum=maximum,
            minimum=minimum,
            buy_now_price=terms.buy_now_price,
            price_max=int(settings.NEIGHBORBID["PRICE_MAX"]),
        ):
            auction = _visible_auction(request, pk)
            return render(
                request,
                "auctions/bid_confirm.html",
                {"auction": auction, "form": form, "amount": amount, "maximum": maximum, "minimum": minimum},
            )
    try:
        with admission.bid_admitted(auction_id=pk):  # past the bound: Overloaded, a 503 (neighborbid/unavailable.py)
            result = bid_place(
                auction_id=pk,
                actor=request.user,
                amount=amount,
                max_amount=maximum,
                request_id=form.cleaned_data["request_id"],
            )
    except ServiceUnavailable:
        raise
    except DomainError as exc:
        return _domain_error_response(request, exc, back=_detail_url(pk))
    # The bid's place in the verifiable bid log rides on the success message (the messages
    # cookie: no session write); the next page hands it to the browser, which keeps it for the
    # verify page (issue 24; the socket's ack carries it directly).
    tags = f"receipt:{pk}:{result.receipt['seq']}:{result.receipt['hash']}" if result.receipt else ""
    price = f"{result.state['current_price']:,}"
    if result.duplicate:
        messages.info(request, _("이미 처리된 입찰이에요. (%(amount)s원)") % {"amount": f"{result.bid.amount:,}"})
    elif not result.leading:
        messages.warning(
            request,
            _("더 높은 최대 입찰가가 있어 자동 입찰로 밀렸어요. 지금 가격은 %(price)s원이에요.") % {"price": price},
            extra_tags=tags,
        )
    elif result.my_max is not None and result.my_max > result.state["current_price"]:
        messages.success(
            request,
            _("입찰했어요. 지금 가격은 %(price)s원, 최대 %(max)s원까지 자동으로 입찰해요.")
            % {"price": price, "max": f"{result.my_max:,}"},
            extra_tags=tags,
        )
    else:
        # "지금 최고 입찰자예요" is said once, by the page's own note (issue 18 #19)
        messages.success(request, _("%(amount)s원에 입찰했어요.") % {"amount": price}, extra_tags=tags)
    return redirect(_detail_url(pk))


@require_POST
def buy_now(request, pk: int):
    if not request.user.is_authenticated:
        return redirect_to_login(_detail_url(pk))
    form = BuyNowForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_detail_url(pk))
    if request.POST.get("confirmed") != "1":
        # No confirmation yet (JavaScript off): ask on a page, with the same request id.
        auction = _visible_auction(request, pk)
        return render(
            request,
            "auctions/buy_now_confirm.html",
            {"auction": auction, "request_id": form.cleaned_data["request_id"]},
        )
    try:
        with admission.bid_admitted(auction_id=pk):
            result = auction_buy_now(auction_id=pk, actor=request.user, request_id=form.cleaned_data["request_id"])
    except ServiceUnavailable:
        raise
    except DomainError as exc:
        return _domain_error_response(request, exc, back=_detail_url(pk))
    if result.duplicate:
        messages.info(request, _("이미 즉시구매한 물건이에요."))
    else:
        messages.success(
            request,
            _("%(price)s원에 즉시구매했어요! 판매자와 거래 약속을 잡아 보세요.")
            % {"price": f"{result.auction.current_price:,}"},
        )
    return redirect(_detail_url(pk))


@require_POST
def watch(request, pk: int):
    if not request.user.is_authenticated:
        return redirect_to_login(_detail_url(pk))
    try:
        watching = watch_toggle(actor=request.user, auction_id=pk)
    except DomainError as exc:
        return _domain_error_response(request, exc, back=_detail_url(pk))
    messages.success(request, _("관심 목록에 담았어요.") if watching else _("관심 목록에서 뺐어요."))
    return redirect(_detail_url(pk))


@require_POST
def report(request, pk: int):
    if not request.user.is_authenticated:
        return redirect_to_login(_detail_url(pk))
    _visible_auction(request, pk)
    form = ReportForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
        return redirect(_detail_url(pk))
    try:
        report_create(
            actor=request.user, reason=form.cleaned_data["reason"], text=form.cleaned_data["text"], auction_id=pk
        )
    except DomainError as exc:
        return _domain_error_response(request, exc, back=_detail_url(pk))
    messages.success(request, _("신고가 접수됐어요. 운영자가 확인할게요."))
    return redirect(_detail_url(pk))


# --- the seller's side ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def create(request):
    form = AuctionForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                with transaction.atomic():  # the listing and its photos land together, or not at all
                    auction = auction_create(
                        actor=request.user,
                        title=data["title"],
                        description=data["description"],
                        category=data["category"],
                        condition=data["condition"],
                        start_price=data["start_price"],
                        buy_now_price=data["buy_now_price"],
                        duration=form.duration,
                        is_national=data["kind"] == "national",
                        min_manner_temperature=data["min_manner_temperature"],
                    )
                    auction_photos_add(auction_id=auction.pk, actor=request.user, files=data["photos"])
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("경매를 올렸어요! 이웃들의 입찰을 기다려 보세요."))
                return redirect(_detail_url(auction.pk))
        messages.error(request, _("입력한 내용을 확인해 주세요."))
    return render(
        request,
        "auctions/form.html",
        {"form": form, "creating": True, "verified": user_location_verified(request.user)},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, pk: int):
    auction = _visible_auction(request, pk)
    if auction.seller_id != request.user.pk:
        raise PermissionDenied(_("내 경매만 수정할 수 있어요."))
    initial = {
        "title": auction.title,
        "description": auction.description,
        "category": auction.category,
        "condition": auction.condition,
        "start_price": f"{auction.start_price:,}",
        "buy_now_price": f"{auction.buy_now_price:,}" if auction.buy_now_price else "",
    }
    form = AuctionEditForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            # Two services, two short transactions: the update locks the auction only for its
            # own statements, and the photos are resized and written before their lock (never
            # image work while bids wait on the auction's row).
            try:
                auction_update(
                    auction_id=pk,
                    actor=request.user,
                    title=data["title"],
                    description=data["description"],
                    category=data["category"],
                    condition=data["condition"],
                    start_price=data["start_price"],
                    buy_now_price=data["buy_now_price"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                try:
                    auction_photos_add(auction_id=pk, actor=request.user, files=data["photos"])
                except DomainError as exc:
                    messages.success(request, _("경매 내용은 수정했어요. 사진은 올리지 못했어요."))
                    form.add_error("photos", exc.message)
                else:
                    messages.success(request, _("경매를 수정했어요."))
                    return redirect(_detail_url(pk))
        messages.error(request, _("입력한 내용을 확인해 주세요."))
    return render(
        request,
        "auctions/form.html",
        {"form": form, "creating": False, "auction": auction, "photos": selectors.auction_photos(auction_id=pk)},
        status=400 if request.method == "POST" else 200,
    )


def _seller_action(request, pk: int, service, done: str):
    """Cancel or end early: the service decides who may (the seller while nobody has bid)."""
    if not request.user.is_authenticated:
        return redirect_to_login(_detail_url(pk))
    try:
        service(auction_id=pk, actor=request.user)
    except DomainError as exc:
        if exc.http_status == 403:
            raise PermissionDenied(exc.message) from exc
        return _domain_error_response(request, exc, back=_detail_url(pk))
    messages.success(request, done)
    return redirect(_detail_url(pk))


@require_POST
def cancel(request, pk: int):
    return _seller_action(request, pk, auction_cancel, _("경매를 취소했어요."))


@require_POST
def end_early(request, pk: int):
    return _seller_action(request, pk, auction_end_early, _("경매를 종료했어요."))


# --- my page and notifications ----------------------------------------------------------------

MY_TABS = ("bids", "listings", "watching", "won")


@login_required
@require_GET
def my_page(request):
    tab = request.GET.get("tab") if request.GET.get("tab") in MY_TABS else "bids"
    which = request.GET.get("filter") if request.GET.get("filter") in selectors.BID_FILTERS else "all"
    uid = request.user.pk
    if tab == "bids":
        qs = selectors.user_bid_auctions(user_id=uid, which=which)
    elif tab == "listings":
        qs = selectors.user_listings(user_id=uid)
    elif tab == "watching":
        qs = selectors.user_watchlist(user_id=uid)
    else:
        qs = selectors.user_won(user_id=uid)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    user = request.user
    origin = user.neighbourhood if user.neighbourhood_id else None
    for auction in page.object_list:
        auction.my_state = _my_bid_state(auction, uid) if tab == "bids" else None
        # the page's rows carry their 동 (select_related): no pass over all 3,512 동 per request
        auction.distance_km = (
            neighbourhood_distance_km(origin, auction.neighbourhood) if origin and auction.neighbourhood_id else None
        )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "auctions/my.html",
        {
            "tab": tab,
            "which": which,
            "page": page,
            "query_string": params.urlencode(),
            "bid_filters": [
                ("all", _("전체")),
                ("leading", _("최고 입찰 중")),
                ("outbid", _("추월당함")),
                ("won", _("낙찰")),
                ("lost", _("놓침")),
            ],
        },
    )


def _my_bid_state(auction: Auction, user_id: int) -> tuple[str, str]:
    """A label for the row (display only)."""
    if auction.status in (Auction.Status.OPEN, Auction.Status.SCHEDULED):
        if auction.leader_id == user_id:
            return ("leading", _("최고 입찰 중"))
        return ("outbid", _("추월당함"))
    if auction.status == Auction.Status.SOLD and auction.winner_id == user_id:
        return ("won", _("낙찰"))
    if auction.status == Auction.Status.CANCELLED:
        return ("lost", _("취소된 경매"))
    return ("lost", _("놓침"))


@login_required
@require_GET
def notifications(request):
    page = Paginator(selectors.user_notifications(user_id=request.user.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "auctions/notifications.html", {"page": page})


@login_required
@require_POST
def notification_read(request, pk: int):
    from notifications.models import Notification

    # Authorisation at the door: someone else's notification is simply not found.
    if not Notification.objects.filter(pk=pk, user_id=request.user.pk).exists():
        raise Http404(_("알림을 찾을 수 없어요."))
    notification_mark_read(actor=request.user, notification_id=pk)
    note = Notification.objects.filter(pk=pk).only("auction_id").first()
    if request.POST.get("open") and note is not None and note.auction_id:
        if not _can_see(request, note.auction_id):
            messages.info(request, _("운영 정책에 따라 숨겨진 경매라 더 볼 수 없어요."))
            return redirect("auctions:notifications")
        return redirect(_detail_url(note.auction_id))
    return redirect("auctions:notifications")


@login_required
@require_POST
def notifications_read_all(request):
    count = notification_mark_read(actor=request.user)
    if count:
        messages.success(request, _("알림 %(n)s개를 모두 읽음으로 표시했어요.") % {"n": count})
    return redirect("auctions:notifications")


@require_GET
@standby_reads  # public, read-only: may come from the standby (neighborbid/replica.py)
def bid_history(request, pk: int):
    """Every bid of an auction (masked names, automatic bids marked), newest first, paginated."""
    auction = _visible_auction(request, pk)
    viewer = request.user.pk if request.user.is_authenticated else None
    page = Paginator(selectors.bid_history(auction_id=auction.pk, viewer_id=viewer), 30).get_page(
        request.GET.get("page")
    )
    return render(request, "auctions/bids.html", {"auction": auction, "page": page, "viewer": viewer})


@require_GET
def verify(request, pk: int):
    """The bid log, recomputed in the browser (WebCrypto SHA-256), with the viewer's own receipts
    (kept by the live page in localStorage) checked against it (issue 24)."""
    auction = _visible_auction(request, pk)
    log = selectors.auction_bid_log(auction=auction)
    labels = {"bid": _("입찰"), "auto": _("자동 입찰"), "buy_now": _("즉시구매"), "settled": _("낙찰")}
    labels |= {"unsold": _("유찰"), "cancelled": _("취소")}
    leaves = []
    for leaf in log["leaves"]:
        try:  # a leaf changed in the database is shown as it is, for the browser to name it
            fields = json.loads(leaf["body"])
        except ValueError:
            fields = None
        fields = fields if isinstance(fields, dict) else {}
        raw_at, amount = fields.get("at"), fields.get("amount")
        at = datetime.fromtimestamp(raw_at / 1_000_000, tz=UTC) if isinstance(raw_at, int) else None
        amount = amount if isinstance(amount, int) else None
        label = labels.get(leaf["kind"], leaf["kind"])
        leaves.append({**leaf, "label": label, "amount": amount, "bidder": fields.get("bidder"), "at": at})
    return render(request, "auctions/verify.html", {"auction": auction, "log": log, "leaves": leaves})


@require_GET
def verify_json(request, pk: int):
    """The same log as JSON, for `python -m neighborbid.verify auction.json`."""
    auction = _visible_auction(request, pk)
    response = JsonResponse(selectors.auction_bid_log(auction=auction), json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'inline; filename="auction-{pk}.json"'
    return response
