from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.utils.translation import gettext_lazy as _


class Neighbourhood(models.Model):
    """A 동 (administrative neighbourhood) with the coordinates of its centre."""

    name = models.CharField(_("동 이름"), max_length=50)
    district = models.CharField(_("시/구"), max_length=50)
    latitude = models.FloatField(_("위도"))
    longitude = models.FloatField(_("경도"))

    class Meta:
        ordering = ["district", "name"]
        constraints = [
            models.UniqueConstraint(fields=["district", "name"], name="neighbourhood_unique_name"),
        ]
        verbose_name = _("동네")
        verbose_name_plural = _("동네")

    def __str__(self) -> str:
        return f"{self.district} {self.name}"


class UserManager(DjangoUserManager["User"]):
    """Django's manager, unchanged. Users are created by accounts.services.user_create (which
    also creates the wallet in the same transaction); `createsuperuser` is overridden to call it."""


class User(AbstractUser):
    class Radius(models.IntegerChoices):
        NEAR = 3, _("가까운 동네 (3km)")
        MIDDLE = 6, _("조금 먼 동네 (6km)")
        FAR = 10, _("먼 동네 (10km)")

    nickname = models.CharField(_("닉네임"), max_length=30)
    neighbourhood = models.ForeignKey(
        Neighbourhood,
        verbose_name=_("내 동네"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="residents",
    )
    location_verified_at = models.DateTimeField(_("동네 인증 시각"), null=True, blank=True)
    search_radius_km = models.PositiveSmallIntegerField(_("동네 범위"), choices=Radius.choices, default=Radius.NEAR)
    is_suspended = models.BooleanField(_("이용 정지"), default=False)
    suspended_reason = models.TextField(_("정지 사유"), blank=True)
    suspended_at = models.DateTimeField(_("정지 시각"), null=True, blank=True)

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        verbose_name = _("회원")
        verbose_name_plural = _("회원")

    def __str__(self) -> str:
        return self.nickname or self.username

    @property
    def display_name(self) -> str:
        return self.nickname or self.username
