from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Auction(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("시작 전")
        OPEN = "open", _("진행 중")
        SOLD = "sold", _("낙찰")
        UNSOLD = "unsold", _("유찰")
        CANCELLED = "cancelled", _("취소")

    class Category(models.TextChoices):
        FURNITURE = "furniture", _("가구/인테리어")
        APPLIANCE = "appliance", _("생활가전")
        DIGITAL = "digital", _("디지털기기")
        KIDS = "kids", _("유아동")
        CLOTHING = "clothing", _("의류/잡화")
        SPORTS = "sports", _("스포츠/레저")
        BOOKS = "books", _("도서/음반")
        HOBBY = "hobby", _("취미/게임")
        LIMITED = "limited", _("한정판/컬렉션")
        OTHER = "other", _("기타")

    class Condition(models.TextChoices):
        NEW = "new", _("새 상품")
        LIKE_NEW = "like_new", _("거의 새 것")
        GOOD = "good", _("사용감 적음")
        FAIR = "fair", _("사용감 많음")

    class EndReason(models.TextChoices):
        BIDS = "bids", _("낙찰")
        BUY_NOW = "buy_now", _("즉시구매")
        NO_BIDS = "no_bids", _("입찰 없음")
        SELLER_ENDED = "seller_ended", _("판매자 조기 종료")
        CANCELLED = "cancelled", _("취소")

    ENDED_STATUSES = (Status.SOLD, Status.UNSOLD, Status.CANCELLED)

    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="auctions")
    title = models.CharField(_("제목"), max_length=100)
    description = models.TextField(_("설명"), blank=True)
    category = models.CharField(_("카테고리"), max_length=20, choices=Category.choices, default=Category.OTHER)
    condition = models.CharField(_("상태"), max_length=20, choices=Condition.choices, default=Condition.GOOD)
    start_price = models.BigIntegerField(_("시작가"))
    buy_now_price = models.BigIntegerField(_("즉시구매가"), null=True, blank=True)
    starts_at = models.DateTimeField(_("시작 시각"))
    ends_at = models.DateTimeField(_("마감 시각"))
    original_ends_at = models.DateTimeField(_("최초 마감 시각"))
    status = models.CharField(_("상태"), max_length=20, choices=Status.choices, default=Status.SCHEDULED)
    is_national = models.BooleanField(_("전국 실시간 경매"), default=False)
    neighbourhood = models.ForeignKey(
        "accounts.Neighbourhood", on_delete=models.PROTECT, related_name="auctions", null=True, blank=True
    )
    current_price = models.BigIntegerField(_("현재가"))
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="leading_auctions"
    )
    # The leader's whole maximum (max bidding), held in their wallet's locked money; never public.
    leader_max = models.BigIntegerField(_("최고 입찰자의 최대 입찰가"), null=True, blank=True)
    bid_count = models.PositiveIntegerField(_("입찰 수"), default=0)
    # The last few bids (masked), kept on the row by bid_place so a live state needs no query.
    recent_bids = models.JSONField(default=list, blank=True)
    seq = models.BigIntegerField(_("변경 번호"), default=0)
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="won_auctions"
    )
    end_reason = models.CharField(max_length=20, choices=EndReason.choices, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    buy_now_request_id = models.CharField(max_length=64, blank=True)
    # Soft close: a bid in the last `soft_close_window_s` seconds moves ends_at to
    # bid time + `soft_close_extension_s`, never beyond original_ends_at + cap.
    soft_close_window_s = models.PositiveIntegerField(default=60)
    soft_close_extension_s = models.PositiveIntegerField(default=60)
    soft_close_cap_s = models.PositiveIntegerField(default=30 * 60)
    is_hidden = models.BooleanField(_("숨김"), default=False)
    hidden_reason = models.TextField(blank=True)
    ending_soon_notified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "ends_at"], name="auction_status_ends"),
            models.Index(fields=["status", "starts_at"], name="auction_status_starts"),
            models.Index(fields=["is_national", "status", "ends_at"], name="auction_kind_status_ends"),
            models.Index(fields=["neighbourhood", "status", "ends_at"], name="auction_nbhd_status_ends"),
            models.Index(fields=["-created_at"], name="auction_created"),
            models.Index(fields=["status", "current_price"], name="auction_status_price"),
            models.Index(fields=["status", "-bid_count"], name="auction_status_bids"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(start_price__gte=1), name="auction_start_price_positive"),
            models.CheckConstraint(
                condition=models.Q(buy_now_price__isnull=True) | models.Q(buy_now_price__gt=models.F("start_price")),
                name="auction_buy_now_above_start",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="auction_ends_after_start"
            ),
            models.CheckConstraint(
                condition=models.Q(current_price__gte=models.F("start_price")), name="auction_price_at_least_start"
            ),
        ]
        verbose_name = _("경매")
        verbose_name_plural = _("경매")

    def __str__(self) -> str:
        return self.title

    @property
    def is_ended(self) -> bool:
        return self.status in self.ENDED_STATUSES


class Bid(models.Model):
    class Kind(models.TextChoices):
        BID = "bid", _("입찰")
        AUTO = "auto", _("자동 입찰")
        RAISE = "raise", _("최대 입찰가 변경")

    auction = models.ForeignKey(Auction, on_delete=models.PROTECT, related_name="bids")
    bidder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bids")
    amount = models.BigIntegerField(_("입찰가"))
    # The bidder's maximum when this row was made (= amount for a plain bid); never public.
    max_amount = models.BigIntegerField(_("최대 입찰가"))
    kind = models.CharField(_("종류"), max_length=10, choices=Kind.choices, default=Kind.BID)
    client_request_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["auction", "-id"], name="bid_auction_recent"),
            models.Index(fields=["bidder", "-id"], name="bid_bidder_recent"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["bidder", "client_request_id"], name="bid_unique_request"),
            models.CheckConstraint(condition=models.Q(amount__gte=1), name="bid_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(max_amount__gte=models.F("amount")), name="bid_max_at_least_amount"
            ),
        ]
        verbose_name = _("입찰")
        verbose_name_plural = _("입찰")

    def __str__(self) -> str:
        return f"{self.amount:,}원"


def auction_photo_path(instance: AuctionPhoto, filename: str) -> str:
    return f"auctions/{instance.auction_id}/{filename}"


class AuctionPhoto(models.Model):
    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to=auction_photo_path)
    thumbnail = models.ImageField(upload_to=auction_photo_path)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"photo {self.position} of auction {self.auction_id}"


class Watch(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches")
    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, related_name="watches")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "auction"], name="watch_unique")]

    def __str__(self) -> str:
        return f"user {self.user_id} watches auction {self.auction_id}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        OUTBID = "outbid", _("상위 입찰")
        WON = "won", _("낙찰")
        SOLD = "sold", _("판매 완료")
        UNSOLD = "unsold", _("유찰")
        ENDING_SOON = "ending_soon", _("마감 임박")
        CANCELLED = "cancelled", _("경매 취소")
        SUSPENDED = "suspended", _("이용 정지")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at", "-id"], name="notification_user_unread")]

    def __str__(self) -> str:
        return self.message


class Report(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("접수")
        DISMISSED = "dismissed", _("기각")
        ACTIONED = "actioned", _("조치 완료")

    class Reason(models.TextChoices):
        PROHIBITED = "prohibited", _("판매 금지 물품")
        FRAUD = "fraud", _("사기 의심")
        ABUSE = "abuse", _("욕설/비매너")
        SPAM = "spam", _("광고/도배")
        OTHER = "other", _("기타")

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made")
    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, null=True, blank=True, related_name="reports")
    reported_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="reports_received"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    text = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"], name="report_status")]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.get_reason_display()})"
