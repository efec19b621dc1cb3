"""Reads shared across apps (the admin's first page)."""

from __future__ import annotations

from django.urls import reverse


def moderation_queue() -> list[dict[str, object]]:
    """What waits for a moderator: open auction reports, open chat reports, disputed trades."""
    from auctions.models import Report
    from chat.models import ChatReport
    from trades.models import Trade

    return [
        {
            "label": "처리할 경매 신고",
            "count": Report.objects.filter(status=Report.Status.OPEN).count(),
            "url": reverse("admin:auctions_report_changelist") + "?status__exact=open",
        },
        {
            "label": "처리할 채팅 신고",
            "count": ChatReport.objects.filter(status=ChatReport.Status.OPEN).count(),
            "url": reverse("admin:chat_chatreport_changelist") + "?status__exact=open",
        },
        {
            "label": "분쟁 중인 거래",
            "count": Trade.objects.filter(status=Trade.Status.DISPUTED).count(),
            "url": reverse("admin:trades_trade_changelist") + "?status__exact=disputed",
        },
    ]
