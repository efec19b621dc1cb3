"""A review one side of a completed trade leaves of the other. Written only by
reviews.services; each one moves the reviewee's 매너온도 (reviews.rules)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from reviews import rules


class Review(models.Model):
    class Rating(models.TextChoices):
        GOOD = rules.GOOD, _("좋아요")
        OK = rules.OK, _("보통이에요")
        BAD = rules.BAD, _("별로예요")

    trade = models.ForeignKey("trades.Trade", on_delete=models.PROTECT, related_name="reviews", verbose_name=_("거래"))
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_written", verbose_name=_("작성자")
    )
    reviewee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_received", verbose_name=_("받는 사람")
    )
    rating = models.CharField(_("평가"), max_length=10, choices=Rating.choices)
    # A list of reviews.rules.ALL_TAGS entries, validated by reviews.rules.tags_clean.
    tags = models.JSONField(_("칭찬/비매너 항목"), default=list, blank=True)
    text = models.CharField(_("후기"), max_length=rules.TEXT_MAX, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("작성 시각"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("수정 시각"))

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["trade", "reviewer"], name="review_one_per_side"),
            models.CheckConstraint(condition=~models.Q(reviewer=models.F("reviewee")), name="review_not_self"),
        ]
        indexes = [models.Index(fields=["reviewee", "-created_at"], name="review_reviewee_recent")]
        verbose_name = _("거래 후기")
        verbose_name_plural = _("거래 후기")

    def __str__(self) -> str:
        return f"review {self.pk} of user {self.reviewee_id} ({self.rating})"

    @property
    def is_positive(self) -> bool:
        return self.rating == self.Rating.GOOD
