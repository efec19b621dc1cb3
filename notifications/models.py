"""A user's notifications: one row per thing they are told, pushed live after commit.

The table is still `auctions_notification` (the model moved here from auctions/ in a state-only
migration: rows and name kept). Every app writes it only through
notifications.services.notification_create; the kinds of every app are listed here."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    class Kind(models.TextChoices):
        OUTBID = "outbid", _("상위 입찰")
        WON = "won", _("낙찰")
        SOLD = "sold", _("판매 완료")
        UNSOLD = "unsold", _("유찰")
        ENDING_SOON = "ending_soon", _("마감 임박")
        CANCELLED = "cancelled", _("경매 취소")
        SUSPENDED = "suspended", _("이용 정지")
        TRADE_SHIPPED = "trade_shipped", _("거래: 발송")
        TRADE_HANDED_OVER = "trade_handed_over", _("거래: 전달 완료")
        TRADE_COMPLETED = "trade_completed", _("거래: 구매 확정")
        TRADE_REFUNDED = "trade_refunded", _("거래: 환불")
        TRADE_DISPUTED = "trade_disputed", _("거래: 분쟁")
        TRADE_RESOLVED = "trade_resolved", _("거래: 분쟁 해결")
        QUESTION = "question", _("상품 문의")
        ANSWER = "answer", _("문의 답변")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("회원")
    )
    kind = models.CharField(_("종류"), max_length=20, choices=Kind.choices)
    auction = models.ForeignKey(
        "auctions.Auction", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("경매")
    )
    message = models.CharField(_("내용"), max_length=300)
    # default, not auto_now_add: the bid's writers stamp the clock read under the lock
    created_at = models.DateTimeField(_("보낸 시각"), default=timezone.now)
    read_at = models.DateTimeField(_("읽은 시각"), null=True, blank=True)

    class Meta:
        verbose_name = _("알림")
        verbose_name_plural = _("알림")
        ordering = ["-id"]
        db_table = "auctions_notification"
        indexes = [models.Index(fields=["user", "read_at", "-id"], name="notification_user_unread")]

    def __str__(self) -> str:
        return self.message
