"""Chat in the admin: the chat report queue with the conversation around each report, and
the rooms (read-only; closing goes through chat.services.room_close)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from chat import selectors, services
from chat.models import ChatReport, Room
from neighborbid.admin_actions import ObjectActionsMixin
from neighborbid.errors import DomainError


def _conversation(report: ChatReport) -> str:
    rows = []
    for m in selectors.report_context(report):
        who = "안내" if m.sender_id is None else ("구매자" if m.sender_id == report.room.buyer_id else "판매자")
        body = m.text or (f"[사진] {m.image.name}" if m.image else "") or f"[약속] {m.meet_at} {m.place}"
        rows.append(("background:#fff3c4" if m.pk == report.message_id else "", m.seq, who, m.created_at, body))
    return format_html(
        "<table><tr><th>#</th><th>보낸 사람</th><th>시각</th><th>내용</th></tr>{}</table>",
        format_html_join("", '<tr style="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>', rows),
    )


@admin.register(ChatReport)
class ChatReportAdmin(ObjectActionsMixin, admin.ModelAdmin):
    list_display = ("id", "status", "reason", "room", "message", "reporter", "created_at")
    list_filter = ("status", "reason")
    readonly_fields = (
        "reporter",
        "room",
        "message",
        "reason",
        "text",
        "status",
        "handled_by",
        "created_at",
        "conversation",
    )
    actions = ("mark_actioned", "mark_dismissed", "close_rooms")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="대화 (신고된 메시지 앞뒤)")
    def conversation(self, obj: ChatReport) -> str:
        return _conversation(obj)

    def _resolve(self, request, queryset, status: str) -> None:
        done = 0
        for report in queryset:
            try:
                services.chat_report_resolve(report_id=report.pk, staff_user=request.user, status=status)
                done += 1
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
        self.message_user(request, f"{done}건 처리했어요.")

    @admin.action(description="조치 완료로 표시")
    def mark_actioned(self, request, queryset):
        self._resolve(request, queryset, ChatReport.Status.ACTIONED)

    @admin.action(description="기각으로 표시")
    def mark_dismissed(self, request, queryset):
        self._resolve(request, queryset, ChatReport.Status.DISMISSED)

    @admin.action(description="신고된 채팅방 닫기")
    def close_rooms(self, request, queryset):
        for room_id in sorted({r.room_id for r in queryset}):
            try:
                services.room_close(staff_user=request.user, room_id=room_id, reason="신고 확인 후 운영자가 닫았어요.")
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
        self.message_user(request, "채팅방을 닫았어요.")


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("id", "trade", "buyer", "seller", "status", "seq", "last_message_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in Room._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
