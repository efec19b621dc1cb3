"""Trade pages: 나의 거래 (the list) and one trade's page, with one POST view per step. Each
step view calls one service and turns a DomainError into a message; no rule is decided here."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from neighborbid.errors import DomainError, TradeNotFound
from trades import selectors
from trades.forms import DisputeForm, ShipForm
from trades.models import Trade
from trades.services import (
    trade_confirm,
    trade_dispute_open,
    trade_mark_handed_over,
    trade_mark_shipped,
    trade_refund,
)

PAGE_SIZE = 20
TABS = ("open", "buying", "selling", "done", "all")


def _visible_trade(request, pk: int) -> Trade:
    trade = selectors.trade_get(trade_id=pk)
    # Authorisation at the door: another person's trade is simply not found.
    if trade is None or not selectors.trade_visible_to(trade, request.user):
        raise Http404(_("거래를 찾을 수 없어요."))
    return trade


@login_required
@require_GET
def trade_list(request):
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "open"
    qs = selectors.user_trades(user_id=request.user.pk, which=tab)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for trade in page.object_list:
        trade.my_role = "buyer" if trade.buyer_id == request.user.pk else "seller"
        trade.needs_me = selectors.trade_needs_action(trade, request.user.pk)
    return render(request, "trades/list.html", {"page": page, "tab": tab})


@login_required
@require_GET
def trade_for_auction(request, auction_id: int):
    trade = selectors.trade_for_auction(auction_id=auction_id)
    if trade is None or not selectors.trade_visible_to(trade, request.user):
        raise Http404(_("거래를 찾을 수 없어요."))
    return redirect("trades:detail", pk=trade.pk)


@login_required
@require_GET
def trade_detail(request, pk: int):
    trade = _visible_trade(request, pk)
    return _render_detail(request, trade)


def _render_detail(request, trade: Trade, *, ship_form=None, dispute_form=None, status=200):
    uid = request.user.pk
    role = selectors.trade_role(trade, uid)
    other = trade.seller if role == "buyer" else trade.buyer
    can = selectors.trade_actions(trade, uid)
    context = {
        "trade": trade,
        "role": role,
        "other": other if role != "moderator" else None,
        "can": can,
        "photos": list(trade.dispute_photos.all()),
        "ship_form": ship_form or ShipForm(),
        "dispute_form": dispute_form or DisputeForm(),
        "is_moderator": request.user.has_perm("trades.resolve_dispute"),
    }
    return render(request, "trades/detail.html", context, status=status)


def _step(request, pk: int, service, success: str, **kwargs):
    # Another person's trade is not found, for every step as for the page: a refusal naming
    # the buyer or the seller would tell a stranger that the trade exists.
    _visible_trade(request, pk)
    try:
        service(trade_id=pk, actor=request.user, **kwargs)
    except TradeNotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("trades:detail", pk=pk)


@login_required
@require_POST
def hand_over(request, pk: int):
    return _step(request, pk, trade_mark_handed_over, _("전달 완료를 알렸어요. 구매자가 구매확정하면 대금이 들어와요."))


@login_required
@require_POST
def ship(request, pk: int):
    form = ShipForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("택배사와 송장 번호를 입력해 주세요."))
        return _render_detail(request, _visible_trade(request, pk), ship_form=form, status=400)
    return _step(request, pk, trade_mark_shipped, _("발송 정보를 알렸어요."), **form.cleaned_data)


@login_required
@require_POST
def confirm(request, pk: int):
    return _step(request, pk, trade_confirm, _("구매확정했어요. 판매자에게 대금이 전달됐어요."))


@login_required
@require_POST
def refund(request, pk: int):
    return _step(request, pk, trade_refund, _("환불했어요. 대금이 구매자에게 돌아갔어요."))


@login_required
@require_POST
def dispute(request, pk: int):
    form = DisputeForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("분쟁 사유를 입력해 주세요."))
        return _render_detail(request, _visible_trade(request, pk), dispute_form=form, status=400)
    return _step(
        request,
        pk,
        trade_dispute_open,
        _("분쟁을 신청했어요. 운영자가 확인할 때까지 대금은 안전하게 보관돼요."),
        reason=form.cleaned_data["reason"],
        photos=request.FILES.getlist("photos"),
    )
