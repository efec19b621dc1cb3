"""A user's notifications: one row per thing they are told, pushed live after commit.

The table is still `auctions_notification` (the model moved here from auctions/ in a state-only
migration: rows and name kept). Every app writes it only through
notifications.services.notification_create; the kinds of every app are listed here."""

from __future__ import annotations

import datetime

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
        CHAT = "chat", _("채팅 메시지")  # push only (a chat message is no bell notification)
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


class PushSubscription(models.Model):
    """One browser's Web Push subscription (PushManager.subscribe): where to POST and the keys
    to encrypt for. Deleted when the push service answers 404/410 (issue 22)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions", verbose_name=_("회원")
    )
    endpoint = models.URLField(_("푸시 주소"), max_length=1000, unique=True)
    p256dh = models.CharField(_("공개 키"), max_length=200)
    auth = models.CharField(_("인증 비밀"), max_length=100)
    user_agent = models.CharField(_("브라우저"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("등록 시각"), default=timezone.now)
    last_success_at = models.DateTimeField(_("마지막 전송"), null=True, blank=True)
    failures = models.PositiveIntegerField(_("연속 실패"), default=0)

    class Meta:
        verbose_name = _("푸시 구독")
        verbose_name_plural = _("푸시 구독")
        indexes = [models.Index(fields=["user"], name="pushsub_user")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.endpoint[:60]}"


class PushJob(models.Model):
    """The push outbox: one row per notification that should reach a closed page, written after
    the notification's transaction committed; the worker sends it to every subscription of the
    user and deletes it (or moves `due_at` on a 429/5xx)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("대기")
        SENT = "sent", _("보냄")
        SKIPPED = "skipped", _("건너뜀")  # throttled, quiet hours, kind turned off, no subscription left
        FAILED = "failed", _("실패")  # gave up after MAX_ATTEMPTS

    # a notification's push; None for a chat message's (kind "chat": room_id and message_id)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # copied from the notification by the INSERT: the throttles read them without a join
    kind = models.CharField(max_length=20)
    auction_id = models.IntegerField(null=True, blank=True)
    room_id = models.IntegerField(null=True, blank=True)
    message_id = models.IntegerField(null=True, blank=True)
    # the subscriptions that already took it: a retry (429/5xx of one device) goes to the rest only
    done_sub_ids = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["status", "due_at"], name="pushjob_due"),
            models.Index(fields=["user", "kind", "auction_id", "-sent_at"], name="pushjob_throttle"),
        ]

    def __str__(self) -> str:
        return f"push {self.kind} → {self.user_id} ({self.status})"


class PushPreference(models.Model):
    """A user's push choices: kinds turned off, and quiet hours (local time, KST) during which
    kinds that are not about money or a trade are not pushed. No row = the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_preference", verbose_name=_("회원")
    )
    disabled_kinds = models.JSONField(_("끈 알림 종류"), default=list, blank=True)
    quiet_start = models.TimeField(_("방해 금지 시작"), default=datetime.time(21, 0))
    quiet_end = models.TimeField(_("방해 금지 끝"), default=datetime.time(8, 0))

    class Meta:
        verbose_name = _("푸시 설정")
        verbose_name_plural = _("푸시 설정")

    def __str__(self) -> str:
        return f"push settings of {self.user_id}"
