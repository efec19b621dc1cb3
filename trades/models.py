"""The trade after the hammer: the buyer's money waits in escrow until the buyer confirms
receipt (구매확정), the seller refunds, a moderator resolves a dispute, or the worker releases
it on a timeout. Only trades.services writes these rows (see docs/architecture.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Trade(models.Model):
    class Status(models.TextChoices):
        AWAITING_HANDOVER = "awaiting_handover", _("거래 대기")
        SHIPPED = "shipped", _("배송 중")
        HANDED_OVER = "handed_over", _("전달 완료")
        DISPUTED = "disputed", _("분쟁 중")
        COMPLETED = "completed", _("구매 확정")
        REFUNDED = "refunded", _("환불")
        RELEASED = "released", _("정산 완료(분쟁)")
        SPLIT = "split", _("분할 정산")

    OPEN_STATUSES = (Status.AWAITING_HANDOVER, Status.SHIPPED, Status.HANDED_OVER, Status.DISPUTED)

    auction = models.OneToOneField(
        "auctions.Auction", on_delete=models.PROTECT, related_name="trade", verbose_name=_("경매")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases", verbose_name=_("구매자")
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sales", verbose_name=_("판매자")
    )
    amount = models.PositiveBigIntegerField(_("거래 금액"))
    is_national = models.BooleanField(_("전국 거래"), default=False)
    status = models.CharField(
        _("상태"), max_length=20, choices=Status.choices, default=Status.AWAITING_HANDOVER, db_index=True
    )
    carrier = models.CharField(_("택배사"), max_length=50, blank=True)
    tracking_number = models.CharField(_("송장 번호"), max_length=50, blank=True)
    handed_over_at = models.DateTimeField(_("전달 완료 시각"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("발송 시각"), null=True, blank=True)
    completed_at = models.DateTimeField(_("구매 확정 시각"), null=True, blank=True)
    disputed_at = models.DateTimeField(_("분쟁 시작 시각"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("분쟁 해결 시각"), null=True, blank=True)
    auto_release_at = models.DateTimeField(_("자동 처리 시각"), null=True, blank=True, db_index=True)
    dispute_reason = models.TextField(_("분쟁 사유"), blank=True)
    resolution_memo = models.TextField(_("해결 메모"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("분쟁 처리자"),
    )
    buyer_refund = models.PositiveBigIntegerField(_("구매자 환불액"), default=0)
    seller_payout = models.PositiveBigIntegerField(_("판매자 정산액"), default=0)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("생성 시각"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("수정 시각"))
    seq = models.PositiveIntegerField(default=0, verbose_name=_("변경 번호"))

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="trade_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(buyer_refund__lte=models.F("amount"))
                & models.Q(seller_payout__lte=models.F("amount")),
                name="trade_payouts_within_amount",
            ),
        ]
        indexes = [
            models.Index(fields=["buyer", "status"], name="trade_buyer_status"),
            models.Index(fields=["seller", "status"], name="trade_seller_status"),
        ]
        permissions = [("resolve_dispute", "Can resolve trade disputes")]
        verbose_name = _("거래")
        verbose_name_plural = _("거래")

    def __str__(self) -> str:
        return f"거래 #{self.pk} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


def dispute_photo_path(instance: TradeDisputePhoto, filename: str) -> str:
    return f"trades/{instance.trade_id}/{filename}"


class TradeDisputePhoto(models.Model):
    trade = models.ForeignKey(Trade, on_delete=models.CASCADE, related_name="dispute_photos", verbose_name=_("거래"))
    image = models.ImageField(upload_to=dispute_photo_path, verbose_name=_("사진"))
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("올린 시각"))

    class Meta:
        verbose_name = _("분쟁 사진")
        verbose_name_plural = _("분쟁 사진")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"dispute photo of trade {self.trade_id}"
