"""Moderation of listings and the report queue. Nothing here edits a field: auctions, bids and
reports are read-only pages, and every change goes through a service as an admin action."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from accounts.services import user_suspend
from auctions.models import Auction, Bid, Report
from auctions.services import auction_cancel, auction_hide, report_resolve
from neighborbid.admin_actions import ObjectActionsMixin, ReasonForm, form_action, resolve_each
from neighborbid.admin_readonly import ReadOnlyAdminMixin
from neighborbid.korean import josa


def _won(amount: int | None) -> str:
    return "-" if amount is None else f"{amount:,}원"


class BidInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Bid
    fields = ("created_at", "bidder", "amount_won", "client_request_id")
    readonly_fields = fields
    ordering = ("-id",)
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False
    verbose_name_plural = "입찰 기록"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("bidder")

    @admin.display(description="입찰가")
    def amount_won(self, obj: Bid) -> str:
        return _won(obj.amount)


@admin.register(Auction)
class AuctionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "title",
        "status",
        "kind",
        "neighbourhood",
        "seller",
        "price",
        "bid_count",
        "ends_at",
        "is_hidden",
    )
    list_display_links = ("id", "title")
    list_filter = ("status", "is_national", "is_hidden", "category", "neighbourhood")
    search_fields = ("=id", "title", "seller__username", "seller__nickname")
    list_select_related = ("seller", "neighbourhood")
    ordering = ("-id",)
    show_full_result_count = False
    inlines = [BidInline]
    actions = ["cancel_auctions", "hide_auctions"]
    fieldsets = (
        (None, {"fields": ("title", "seller", "category", "condition", "description")}),
        (
            "경매 상태",
            {
                "fields": (
                    "status",
                    "is_national",
                    "neighbourhood",
                    "start_price",
                    "buy_now_price",
                    "current_price",
                    "leader",
                    "bid_count",
                    "winner",
                    "end_reason",
                    "starts_at",
                    "ends_at",
                    "original_ends_at",
                    "ended_at",
                    "seq",
                )
            },
        ),
        ("모더레이션", {"fields": ("is_hidden", "hidden_reason", "open_reports")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["open_reports"]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_moderate_permission(self, request) -> bool:
        return request.user.has_perm("auctions.moderate_auction")

    @admin.display(description="구분", boolean=False)
    def kind(self, obj: Auction) -> str:
        return "전국" if obj.is_national else "동네"

    @admin.display(description="현재가", ordering="current_price")
    def price(self, obj: Auction) -> str:
        return _won(obj.current_price)

    @admin.display(description="신고")
    def open_reports(self, obj: Auction) -> str:
        count = obj.reports.filter(status=Report.Status.OPEN).count()
        url = reverse("admin:auctions_report_changelist") + f"?auction__id__exact={obj.pk}"
        return format_html('<a href="{}">처리 대기 {}건</a>', url, count)

    @admin.action(description="선택한 경매 취소 (입찰금 환불)", permissions=["moderate"])
    def cancel_auctions(self, request, queryset):
        def perform(auction, data):
            auction_cancel(auction_id=auction.pk, actor=request.user, reason=data["reason"])
            return "취소했어요. 잠긴 입찰금은 돌려줬어요."

        return form_action(
            self,
            request,
            queryset,
            action="cancel_auctions",
            title="경매 취소",
            form_class=ReasonForm,
            perform=perform,
            intro="진행 중인 경매를 취소해요. 최고 입찰자의 입찰금은 지갑으로 돌아가고, 판매자와 입찰자에게 "
            "알림이 가며, 경매 페이지에 실시간으로 반영돼요. 사유는 판매자에게 전달돼요.",
        )

    @admin.action(description="선택한 경매 숨김 (진행 중이면 취소)", permissions=["moderate"])
    def hide_auctions(self, request, queryset):
        def perform(auction, data):
            auction_hide(auction_id=auction.pk, staff_user=request.user, reason=data["reason"])
            return "숨겼어요."

        return form_action(
            self,
            request,
            queryset,
            action="hide_auctions",
            title="경매 숨김",
            form_class=ReasonForm,
            perform=perform,
            intro="목록과 검색에서 숨기고 더 이상 입찰할 수 없게 해요. 진행 중인 경매는 취소되고 입찰금은 환불돼요.",
        )


@admin.register(Bid)
class BidAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "auction", "bidder", "amount_won", "max_won", "created_at")
    search_fields = ("=auction__id", "bidder__username", "bidder__nickname")
    list_select_related = ("auction", "bidder")
    show_full_result_count = False
    actions = None

    @admin.display(description="입찰가", ordering="amount")
    def amount_won(self, obj: Bid) -> str:
        return _won(obj.amount)

    @admin.display(description="최대 입찰가", ordering="max_amount")
    def max_won(self, obj: Bid) -> str:
        return _won(obj.max_amount)


@admin.register(Report)
class ReportAdmin(ObjectActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "status",
        "reason",
        "summary",
        "reporter",
        "auction_link",
        "reported_user",
        "handled_by",
    )
    list_filter = ("status", "reason")
    search_fields = ("=id", "text", "reporter__username", "reported_user__username", "auction__title")
    list_select_related = ("reporter", "auction", "reported_user", "handled_by")
    ordering = ("-id",)
    actions = ["dismiss_reports", "mark_actioned", "hide_reported_listings", "suspend_reported_users"]
    fields = (
        "status",
        "reason",
        "text",
        "reporter",
        "auction_link",
        "reported_user",
        "handled_by",
        "created_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_handle_permission(self, request) -> bool:
        return request.user.has_perm("auctions.change_report")

    def has_moderate_permission(self, request) -> bool:
        return request.user.has_perm("auctions.change_report") and request.user.has_perm("auctions.moderate_auction")

    def has_suspend_permission(self, request) -> bool:
        return request.user.has_perm("auctions.change_report") and request.user.has_perm("accounts.suspend_user")

    @admin.display(description="내용")
    def summary(self, obj: Report) -> str:
        text = " ".join((obj.text or "").split())
        return text if len(text) <= 40 else text[:39] + "…"

    @admin.display(description="경매", ordering="auction")
    def auction_link(self, obj: Report) -> str:
        if obj.auction is None:  # no query when auction_id is None
            return "-"
        url = reverse("admin:auctions_auction_change", args=[obj.auction_id])
        return format_html('<a href="{}">#{} {}</a>', url, obj.auction_id, obj.auction.title)

    def _resolve_all(self, request, queryset, status: str, label: str) -> None:
        resolve_each(
            self,
            request,
            queryset,
            resolve=lambda report: report_resolve(report_id=report.pk, staff_user=request.user, status=status),
            noun="신고",
            label=label,
        )

    @admin.action(description="선택한 신고 기각", permissions=["handle"])
    def dismiss_reports(self, request, queryset):
        self._resolve_all(request, queryset, Report.Status.DISMISSED, "기각")

    @admin.action(description="선택한 신고 조치 완료로 표시", permissions=["handle"])
    def mark_actioned(self, request, queryset):
        self._resolve_all(request, queryset, Report.Status.ACTIONED, "조치 완료")

    @admin.action(description="신고된 경매 숨김 (진행 중이면 취소·환불) 후 조치 완료", permissions=["moderate"])
    def hide_reported_listings(self, request, queryset):
        def perform(report, data):
            if report.auction_id is None:
                return "경매 신고가 아니어서 건너뛰었어요."
            auction_hide(auction_id=report.auction_id, staff_user=request.user, reason=data["reason"])
            report_resolve(report_id=report.pk, staff_user=request.user, status=Report.Status.ACTIONED)
            return f"{josa(f'경매 #{report.auction_id}', '을/를')} 숨겼어요."

        return form_action(
            self,
            request,
            queryset,
            action="hide_reported_listings",
            title="신고된 경매 숨김",
            form_class=ReasonForm,
            perform=perform,
            intro="신고된 경매를 숨기고(진행 중이면 취소, 입찰금 환불) 신고를 조치 완료로 표시해요.",
        )

    @admin.action(description="신고된 회원(또는 경매 판매자) 이용 정지 후 조치 완료", permissions=["suspend"])
    def suspend_reported_users(self, request, queryset):
        def perform(report, data):
            target = report.reported_user or (report.auction.seller if report.auction_id else None)
            if target is None:
                return "정지할 회원이 없어요."
            hidden = user_suspend(user_id=target.pk, staff_user=request.user, reason=data["reason"])
            report_resolve(report_id=report.pk, staff_user=request.user, status=Report.Status.ACTIONED)
            return f"{target.username} 이용 정지 (숨긴 경매 {hidden}건)."

        return form_action(
            self,
            request,
            queryset.select_related("reported_user", "auction__seller"),
            action="suspend_reported_users",
            title="신고된 회원 이용 정지",
            form_class=ReasonForm,
            perform=perform,
            intro="신고된 회원(회원 신고가 아니면 경매의 판매자)의 이용을 정지해요. 진행 중인 판매 경매는 "
            "숨기고 입찰금을 환불해요. 사유는 본인에게 보여요.",
        )
