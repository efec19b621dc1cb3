"""Trades in the admin: read-only pages (money fields included); the one change, deciding a
dispute, is an admin action that calls trades.services.trade_dispute_resolve with a reason."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from neighborbid.admin_actions import ReasonForm, form_action
from neighborbid.admin_readonly import ReadOnlyAdminMixin
from trades.models import Trade, TradeDisputePhoto
from trades.services import trade_dispute_resolve
from wallets.forms import WonField


def _won(amount: int | None) -> str:
    return "-" if amount is None else f"{amount:,}원"


class ResolveForm(ReasonForm):
    outcome = forms.ChoiceField(
        label="해결 방법",
        choices=[
            (Trade.Status.REFUNDED, "구매자에게 전액 환불"),
            (Trade.Status.RELEASED, "판매자에게 전액 정산"),
            (Trade.Status.SPLIT, "분할 정산 (구매자 금액 입력)"),
        ],
        widget=forms.RadioSelect,
    )
    # The one amount parser (wallets.amounts.parse_won): ASCII digits, commas, 원; never "١٢٣".
    buyer_amount = WonField(label="분할 정산: 구매자에게 돌려줄 금액(원)", required=False)
    field_order = ["outcome", "buyer_amount", "reason"]


class DisputePhotoInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TradeDisputePhoto
    fields = ("preview", "uploaded_at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = "분쟁 사진"

    @admin.display(description="사진")
    def preview(self, obj: TradeDisputePhoto) -> str:
        return format_html('<a href="{0}"><img src="{0}" width="120" alt=""></a>', obj.image.url)


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "auction",
        "status",
        "kind",
        "buyer",
        "seller",
        "amount_won",
        "auto_release_at",
        "disputed_at",
    )
    list_display_links = ("id", "auction")
    list_filter = ("status", "is_national", ("disputed_at", admin.EmptyFieldListFilter))
    search_fields = (
        "=id",
        "auction__title",
        "buyer__username",
        "buyer__nickname",
        "seller__username",
        "seller__nickname",
    )
    list_select_related = ("auction", "buyer", "seller")
    ordering = ("-id",)
    show_full_result_count = False
    inlines = [DisputePhotoInline]
    actions = ["resolve_disputes"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("trades.resolve_dispute")

    @admin.display(description="구분")
    def kind(self, obj: Trade) -> str:
        return "택배" if obj.is_national else "직거래"

    @admin.display(description="금액", ordering="amount")
    def amount_won(self, obj: Trade) -> str:
        return _won(obj.amount)

    @admin.action(description="분쟁 해결 (환불 / 정산 / 분할)", permissions=["resolve"])
    def resolve_disputes(self, request, queryset):
        def perform(trade, data):
            done = trade_dispute_resolve(
                trade_id=trade.pk,
                staff_user=request.user,
                outcome=data["outcome"],
                buyer_amount=data.get("buyer_amount") if data["outcome"] == Trade.Status.SPLIT else None,
                memo=data["reason"],
            )
            return f"구매자 {done.buyer_refund:,}원, 판매자 {done.seller_payout:,}원으로 해결했어요."

        return form_action(
            self,
            request,
            queryset,
            action="resolve_disputes",
            title="분쟁 해결",
            form_class=ResolveForm,
            perform=perform,
            single=True,
            details=lambda trade: (
                f"{trade}: 보관 중인 거래 금액 {trade.amount:,}원 — 분할하면 구매자 몫을 뺀 나머지가 판매자에게 가요."
            ),
            intro="분쟁 중인 거래의 보관 대금을 구매자에게 돌려주거나, 판매자에게 정산하거나, 원 단위로 나눠요. "
            "되돌릴 수 없고, 두 사람 모두에게 알림과 사유가 전달돼요.",
        )
