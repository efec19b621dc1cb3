"""The wallet page: balances, the ledger history, top-up and withdraw forms."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from neighborbid.errors import DomainError
from wallets.forms import DepositForm, WithdrawForm
from wallets.models import LedgerEntry, Wallet
from wallets.services import wallet_deposit, wallet_withdraw

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from neighborbid.http import AuthenticatedHttpRequest

PAGE_SIZE = 20

LABELS: dict[str, StrOrPromise] = {
    LedgerEntry.Kind.DEPOSIT: gettext_lazy("충전"),
    LedgerEntry.Kind.WITHDRAWAL: gettext_lazy("출금"),
    LedgerEntry.Kind.BID_HOLD: gettext_lazy("입찰금 보관"),
    LedgerEntry.Kind.HOLD_RELEASE: gettext_lazy("입찰금 반환"),
    LedgerEntry.Kind.PURCHASE: gettext_lazy("구매 대금 지급"),
    LedgerEntry.Kind.SALE_PROCEEDS: gettext_lazy("판매 대금 입금"),
    LedgerEntry.Kind.ADJUSTMENT: gettext_lazy("관리자 정정"),
}


def _render(
    request: AuthenticatedHttpRequest,
    *,
    deposit_form: DepositForm | None = None,
    withdraw_form: WithdrawForm | None = None,
    status: int = 200,
) -> HttpResponse:
    wallet = Wallet.objects.get(user_id=request.user.pk)
    entries = LedgerEntry.objects.filter(wallet=wallet).select_related("auction").order_by("-id")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.label = LABELS.get(entry.kind, entry.get_kind_display())  # type: ignore[attr-defined]  # for the template
    return render(
        request,
        "wallets/wallet.html",
        {
            "wallet": wallet,
            "page": page,
            "deposit_form": deposit_form or DepositForm(auto_id="deposit_%s"),
            "withdraw_form": withdraw_form or WithdrawForm(auto_id="withdraw_%s"),
        },
        status=status,
    )


@login_required
@require_GET
def wallet(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _render(request)


def _first_error(form: DepositForm | WithdrawForm) -> str:
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return _("입력한 내용을 확인해 주세요.")


@login_required
@require_POST
def deposit(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = DepositForm(request.POST, auto_id="deposit_%s")
    if form.is_valid():
        try:
            entry = wallet_deposit(actor=request.user, amount=form.cleaned_data["amount"], memo="지갑 충전")
        except DomainError as exc:
            form.add_error("amount", exc.message)
        else:
            messages.success(request, _("%(amount)s원을 충전했어요.") % {"amount": f"{entry.balance_delta:,}"})
            return redirect("wallets:wallet")
    messages.error(request, _first_error(form))
    return _render(request, deposit_form=form, status=400)


@login_required
@require_POST
def withdraw(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = WithdrawForm(request.POST, auto_id="withdraw_%s")
    if form.is_valid():
        try:
            entry = wallet_withdraw(actor=request.user, amount=form.cleaned_data["amount"])
        except DomainError as exc:
            form.add_error("amount", exc.message)
        else:
            messages.success(request, _("%(amount)s원을 출금 신청했어요.") % {"amount": f"{-entry.balance_delta:,}"})
            return redirect("wallets:wallet")
    messages.error(request, _first_error(form))
    return _render(request, withdraw_form=form, status=400)
