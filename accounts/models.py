from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Neighbourhood(models.Model):
    """A 동 (administrative neighbourhood: 행정동, 읍 or 면) with the coordinates of its centre.

    Loaded from accounts/data/korea_dong.csv by `accounts.services.neighbourhoods_load`, keyed by
    the 행정기관코드 (`code`). `district` is "시도 시군구" for display ("제주특별자치도 제주시"). A 동
    that is no longer in the table (or one typed by hand before the table came, with no match in
    it) keeps its row for old users and listings but is not offered (`is_offered`)."""

    code = models.CharField(_("행정기관코드"), max_length=10, unique=True, null=True, blank=True)
    name = models.CharField(_("동 이름"), max_length=50)
    district = models.CharField(_("시/구"), max_length=50)
    sido = models.CharField(_("시도"), max_length=20, blank=True)
    sigungu = models.CharField(_("시군구"), max_length=30, blank=True)
    latitude = models.FloatField(_("위도"))
    longitude = models.FloatField(_("경도"))
    is_offered = models.BooleanField(_("인증 목록에 표시"), default=True)
    # the 초성 of the name, for the search box ("ㅇㅅ" finds 역삼1동); written by the loader
    initials = models.CharField(_("초성"), max_length=50, blank=True, editable=False)
    # the name a row had before the table matched it to a 행정동 ("역삼동" → 역삼1동): searchable,
    # and what the migration's reverse restores
    legacy_name = models.CharField(_("예전 이름"), max_length=50, blank=True)

    class Meta:
        ordering = ["district", "name"]
        indexes = [
            # the bounding-box prefilter of accounts.selectors (nearest 동, 동 within a radius)
            models.Index(fields=["latitude", "longitude"], name="neighbourhood_lat_lng"),
        ]
        verbose_name = _("동네")
        verbose_name_plural = _("동네")

    def __str__(self) -> str:
        return f"{self.district} {self.name}"

    @property
    def full_name(self) -> str:
        return f"{self.district} {self.name}"


class UserManager(DjangoUserManager["User"]):
    """Django's manager, unchanged. Users are created by accounts.services.user_create (which
    also creates the wallet in the same transaction); `createsuperuser` is overridden to call it."""


class UsernameValidator(UnicodeUsernameValidator):
    message = _("아이디는 영문, 숫자, @/./+/-/_만 쓸 수 있어요.")


class User(AbstractUser):
    class Radius(models.IntegerChoices):
        NEAR = 3, _("가까운 동네 (3km)")
        MIDDLE = 6, _("조금 먼 동네 (6km)")
        FAR = 10, _("먼 동네 (10km)")

    # AbstractUser's field with the house's word: "아이디", never Django's "사용자 이름".
    username = models.CharField(
        _("아이디"),
        max_length=150,
        unique=True,
        help_text=_("150자 이하의 영문, 숫자, @/./+/-/_만 쓸 수 있어요."),
        validators=[UsernameValidator()],
        error_messages={"unique": _("이미 사용 중인 아이디예요.")},
    )
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
    # 매너온도: written only by accounts.services.user_temperature_recompute (formula in
    # reviews.rules, docs/architecture.md); everyone starts at 36.5 °C.
    manner_temperature = models.DecimalField(
        _("매너온도"), max_digits=3, decimal_places=1, default=Decimal("36.5"), editable=False
    )

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(manner_temperature__gte=0, manner_temperature__lte=99),
                name="user_manner_temperature_range",
            ),
        ]
        verbose_name = _("회원")
        verbose_name_plural = _("회원")

    def __str__(self) -> str:
        return self.nickname or self.username

    @property
    def display_name(self) -> str:
        return self.nickname or self.username


class DeviceSighting(models.Model):
    """A browser (device cookie) a user signed in from. Only the cookie's SHA-256 is kept.

    Two accounts seen on one device are a hard link: such an account may not bid on the
    other's auctions (the shill-bidding rule, fraud/)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="device_sightings", verbose_name=_("회원"))
    device_hash = models.CharField(_("기기 식별값 (SHA-256)"), max_length=64)
    first_seen = models.DateTimeField(_("처음 본 시각"))
    last_seen = models.DateTimeField(_("마지막으로 본 시각"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "device_hash"], name="device_sighting_unique")]
        indexes = [models.Index(fields=["device_hash"], name="device_sighting_device")]
        verbose_name = _("로그인 기기")
        verbose_name_plural = _("로그인 기기")

    def __str__(self) -> str:
        return f"회원 #{self.user_id}의 기기 {self.device_hash[:8]}"


class DeviceToken(models.Model):
    """An app's sign-in on one device (the JSON API, api/): an opaque bearer token of which only
    the SHA-256 is kept. Revoked by the user (one device, or all: 모든 기기에서 로그아웃), by a
    password change and by a suspension (accounts.services.device_tokens_revoke)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="device_tokens", verbose_name=_("회원"))
    name = models.CharField(_("기기 이름"), max_length=100)
    token_hash = models.CharField(_("토큰 (SHA-256)"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("발급 시각"), default=timezone.now)
    last_used_at = models.DateTimeField(_("마지막 사용 시각"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("해지 시각"), null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"], name="device_token_user_live")]
        verbose_name = _("앱 로그인 기기")
        verbose_name_plural = _("앱 로그인 기기")

    def __str__(self) -> str:
        return f"회원 #{self.user_id}의 앱 기기 {self.name}"
