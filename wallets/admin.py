"""Wallets and the ledger, read-only for everyone (superusers included): no add, change or delete.
The only way to change a balance here is the manual correction action, which calls
wallets.services.wallet_adjust (mandatory reason, ledger entry naming the staff user)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from neighborbid.admin_actions import form_action
from neighborbid.admin_readonly import ReadOnlyAdminMixin
from neighborbid.errors import InvalidAmount
from wallets.amounts import parse_signed_won
from wallets.models import LedgerEntry, Wallet
from wallets.services import wallet_adjust

if TYPE_CHECKING:
    from neighborbid.http import AuthenticatedHttpRequest


class CorrectionForm(forms.Form):
    amount = forms.CharField(
        label="정정 금액 (원)",
        max_length=21,
        help_text="양수는 사용 가능 잔액에 더하고, 음수는 빼요. 예: 2,500 "
        "또는 -7,500. 입찰 중 잠긴 금액은 건드리지 않아요.",
    )
    reason = forms.CharField(
        label="사유 (필수, 거래 내역에 남아요)", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=200
    )

    def clean_amount(self) -> int:
        limit = settings.NEIGHBORBID["WALLET_MAX"]
        try:
            amount = parse_signed_won(self.cleaned_data["amount"], limit=10**15)
        except InvalidAmount:
            raise forms.ValidationError("0이 아닌 정수(원)로 입력해 주세요. 예: 2,500 또는 -7,500") from None
        if abs(amount) > limit:
            raise forms.ValidationError(f"정정 금액은 ±{limit:,}원을 넘을 수 없어요.")
        return amount

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("사유를 입력해 주세요.")
        return reason


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Wallet]):
    list_display = ("id", "user", "balance_won", "locked_won", "total_won", "updated_at")
    search_fields = ("=id", "=user__id", "user__username", "user__nickname")
    list_select_related = ("user",)
    ordering = ("-id",)
    show_full_result_count = False
    fields = ("user", "balance_won", "locked_won", "total_won", "updated_at", "recent_entries")
    readonly_fields = fields
    actions = ["manual_correction"]

    def has_adjust_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("wallets.adjust_wallet")

    @admin.display(description="사용 가능 잔액", ordering="balance")
    def balance_won(self, obj: Wallet) -> str:
        return f"{obj.balance:,}원"

    @admin.display(description="입찰 중 잠긴 금액", ordering="locked_balance")
    def locked_won(self, obj: Wallet) -> str:
        return f"{obj.locked_balance:,}원"

    @admin.display(description="합계")
    def total_won(self, obj: Wallet) -> str:
        return f"{obj.total:,}원"

    @admin.display(description="거래 내역")
    def recent_entries(self, obj: Wallet) -> str:
        url = reverse("admin:wallets_ledgerentry_changelist") + f"?wallet__id__exact={obj.pk}"
        count = LedgerEntry.objects.filter(wallet=obj).count()
        return format_html('<a href="{}">거래 내역 {}건 보기</a>', url, count)

    @admin.action(description="수동 정정 (사유 필수, 한 번에 한 지갑)", permissions=["adjust"])
    def manual_correction(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Wallet]) -> HttpResponse | None:
        def perform(wallet: Wallet, data: dict[str, Any]) -> str:
            entry = wallet_adjust(
                user=wallet.user, amount=data["amount"], staff_user=request.user, reason=data["reason"]
            )
            return f"{data['amount']:+,}원 정정 (거래 내역 #{entry.pk}, 잔액 {entry.balance_after:,}원)."

        return form_action(
            self,
            request,
            queryset.select_related("user"),
            action="manual_correction",
            title="지갑 수동 정정",
            form_class=CorrectionForm,
            perform=perform,
            single=True,
            intro="정정은 거래 내역에 '관리자 정정'으로 기록되고, 처리한 운영자와 사유가 남아요. 되돌리려면 "
            "반대 금액으로 다시 정정해 주세요 (거래 내역은 수정·삭제할 수 없어요).",
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[LedgerEntry]):
    list_display = (
        "id",
        "created_at",
        "wallet",
        "kind",
        "balance_delta_won",
        "locked_delta_won",
        "balance_after_won",
        "locked_after_won",
        "auction",
        "staff_user",
        "memo",
    )
    list_filter = ("kind",)
    search_fields = ("=id", "=wallet__id", "=auction__id", "wallet__user__username", "memo")
    list_select_related = ("wallet__user", "auction", "staff_user")
    ordering = ("-id",)
    show_full_result_count = False
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: LedgerEntry | None = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    # Amounts as the site writes them (issue 18 #21: the admin showed 12000 and -5000).
    @admin.display(description="잔액 변동", ordering="balance_delta")
    def balance_delta_won(self, obj: LedgerEntry) -> str:
        return f"{obj.balance_delta:+,}원" if obj.balance_delta else "0원"

    @admin.display(description="보관금 변동", ordering="locked_delta")
    def locked_delta_won(self, obj: LedgerEntry) -> str:
        return f"{obj.locked_delta:+,}원" if obj.locked_delta else "0원"

    @admin.display(description="잔액", ordering="balance_after")
    def balance_after_won(self, obj: LedgerEntry) -> str:
        return f"{obj.balance_after:,}원"

    @admin.display(description="보관금", ordering="locked_after")
    def locked_after_won(self, obj: LedgerEntry) -> str:
        return f"{obj.locked_after:,}원"
