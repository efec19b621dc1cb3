"""A pair (seller, bidder) that two or more independent shill-bidding signals flagged.

The evidence (each signal's numbers and the auctions behind it) is kept on the row so a
moderator decides on one page. Nothing is ever cancelled automatically."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ShillCase(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("검토 대기")
        DISMISSED = "dismissed", _("문제 없음")
        ACTIONED = "actioned", _("조치 완료")

    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("판매자")
    )
    bidder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("입찰자")
    )
    # [{"code", "label", "detail", "auction_ids"}] — see fraud.rules.SIGNALS
    signals = models.JSONField(_("탐지 신호"), default=list)
    signal_count = models.PositiveSmallIntegerField(_("신호 수"), default=0)
    auction_ids = models.JSONField(_("관련 경매"), default=list)
    status = models.CharField(_("처리 상태"), max_length=20, choices=Status.choices, default=Status.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("처리한 운영자"),
    )
    handled_note = models.TextField(_("처리 메모"), blank=True)
    created_at = models.DateTimeField(_("탐지 시각"), auto_now_add=True)
    updated_at = models.DateTimeField(_("마지막 탐지 시각"), auto_now=True)

    class Meta:
        verbose_name = _("자동 탐지")
        verbose_name_plural = _("자동 탐지")
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "bidder"], condition=models.Q(status="open"), name="shill_case_one_open_per_pair"
            )
        ]
        indexes = [models.Index(fields=["status", "-updated_at"], name="shill_case_status")]

    def __str__(self) -> str:
        return f"자동 탐지 #{self.pk} (판매자 #{self.seller_id} · 입찰자 #{self.bidder_id})"
