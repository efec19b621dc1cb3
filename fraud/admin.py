"""자동 탐지: the shill-bidding cases, with every signal's evidence on one page. Read-only; a
moderator closes a case with an action (fraud.services.shill_case_resolve) and suspends or
hides through the existing user and auction tools."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from fraud.models import ShillCase
from fraud.selectors import shill_case_bids
from fraud.services import REVIEW, shill_case_resolve
from neighborbid.admin_actions import ObjectActionsMixin, resolve_each
from neighborbid.admin_readonly import ReadOnlyAdminMixin


def _user_link(user_id: int, label: str) -> str:
    return format_html('<a href="{}">{}</a>', reverse("admin:accounts_user_change", args=[user_id]), label)


@admin.register(ShillCase)
class ShillCaseAdmin(ObjectActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "updated_at", "status", "seller_link", "bidder_link", "signal_count", "signal_labels")
    list_filter = ("status",)
    search_fields = ("=id", "seller__username", "bidder__username", "seller__nickname", "bidder__nickname")
    list_select_related = ("seller", "bidder", "handled_by")
    ordering = ("-updated_at", "-id")
    actions = ["dismiss_cases", "mark_actioned"]
    fields = (
        "status",
        "seller_link",
        "bidder_link",
        "evidence",
        "auctions",
        "handled_by",
        "handled_note",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm(REVIEW)

    @admin.display(description="판매자", ordering="seller")
    def seller_link(self, obj: ShillCase) -> str:
        return _user_link(obj.seller_id, str(obj.seller))

    @admin.display(description="입찰자", ordering="bidder")
    def bidder_link(self, obj: ShillCase) -> str:
        return _user_link(obj.bidder_id, str(obj.bidder))

    @admin.display(description="신호")
    def signal_labels(self, obj: ShillCase) -> str:
        return ", ".join(str(s.get("label", "")) for s in obj.signals)

    @admin.display(description="근거")
    def evidence(self, obj: ShillCase) -> str:
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", "<li><strong>{}</strong>: {}</li>", ((s["label"], s["detail"]) for s in obj.signals)),
        )

    @admin.display(description="관련 경매의 입찰 기록 (판매자·입찰자·낙찰자)")
    def auctions(self, obj: ShillCase) -> str:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}원</td><td>{}원</td><td>{}</td></tr>",
            (
                (
                    format_html(
                        '<a href="{}">경매 #{}</a>',
                        reverse("admin:auctions_auction_change", args=[b.auction_id]),
                        b.auction_id,
                    ),
                    b.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    b.bidder,
                    f"{b.amount:,}",
                    f"{b.max_amount:,}",
                    b.get_kind_display(),
                )
                for b in shill_case_bids(case=obj)
            ),
        )
        return format_html(
            "<table><thead><tr><th>경매</th><th>시각</th><th>입찰자</th><th>입찰가</th><th>최대 입찰가</th>"
            "<th>종류</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def _resolve_all(self, request, queryset, status: str, label: str) -> None:
        resolve_each(
            self,
            request,
            queryset,
            resolve=lambda case: shill_case_resolve(case_id=case.pk, staff_user=request.user, status=status),
            noun="자동 탐지",
            label=label,
            verb="닫았어요",
        )

    @admin.action(description="선택한 탐지 건: 문제 없음", permissions=["review"])
    def dismiss_cases(self, request, queryset):
        self._resolve_all(request, queryset, ShillCase.Status.DISMISSED, "문제 없음")

    @admin.action(description="선택한 탐지 건: 조치 완료", permissions=["review"])
    def mark_actioned(self, request, queryset):
        self._resolve_all(request, queryset, ShillCase.Status.ACTIONED, "조치 완료")
