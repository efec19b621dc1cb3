from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_log_salt() -> str:
    """A fresh per-auction secret for the bidders' pseudonyms in the bid log."""
    import secrets

    return secrets.token_hex(16)


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

    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="auctions", verbose_name=_("판매자")
    )
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
        "accounts.Neighbourhood",
        on_delete=models.PROTECT,
        related_name="auctions",
        null=True,
        blank=True,
        verbose_name=_("동네"),
    )
    current_price = models.BigIntegerField(_("현재가"))
    # No index: the leader changes with most bids, and an index on it would make every such
    # update write all of this table's indexes (nothing looks auctions up by their leader).
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leading_auctions",
        verbose_name=_("최고 입찰자"),
        db_index=False,
    )
    # The leader's whole maximum (max bidding), held in their wallet's locked money; never public.
    leader_max = models.BigIntegerField(_("최고 입찰자의 최대 입찰가"), null=True, blank=True)
    bid_count = models.PositiveIntegerField(_("입찰 수"), default=0)
    # The open lists' sort keys (migration 0018): the price and bid count as the lists order
    # them. A busy auction's bids refresh them at most once every SORT_KEYS_MAX_AGE
    # (auctions.services.bid_writes) and the worker catches up the rest (`sort_stale`), so most
    # bids change no indexed column and PostgreSQL updates the row HOT: none of this table's
    # indexes (three of them text indexes) is written. Every other write keeps them exact.
    # The database defaults are for a row inserted by code older than 0018 (a rolling deploy):
    # it is born stale, and the worker gives it its keys.
    sort_price = models.BigIntegerField(_("정렬용 현재가"), default=0, db_default=0)
    sort_bids = models.PositiveIntegerField(_("정렬용 입찰 수"), default=0, db_default=0)
    sort_at = models.DateTimeField(_("정렬 키 갱신 시각"), null=True, blank=True)
    sort_stale = models.BooleanField(_("정렬 키 갱신 필요"), default=False, db_default=True)
    # The last few bids (masked), kept on the row by bid_place so a live state needs no query.
    recent_bids = models.JSONField(_("최근 입찰"), default=list, blank=True)
    seq = models.BigIntegerField(_("변경 번호"), default=0)
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="won_auctions",
        verbose_name=_("낙찰자"),
    )
    end_reason = models.CharField(_("종료 사유"), max_length=20, choices=EndReason.choices, blank=True)
    ended_at = models.DateTimeField(_("종료 시각"), null=True, blank=True)
    buy_now_request_id = models.CharField(_("즉시구매 요청 번호"), max_length=64, blank=True)
    # Soft close: a bid in the last `soft_close_window_s` seconds moves ends_at to
    # bid time + `soft_close_extension_s`, never beyond original_ends_at + cap.
    soft_close_window_s = models.PositiveIntegerField(_("마감 연장 기준 (초)"), default=60)
    soft_close_extension_s = models.PositiveIntegerField(_("마감 연장 시간 (초)"), default=60)
    soft_close_cap_s = models.PositiveIntegerField(_("최대 연장 시간 (초)"), default=30 * 60)
    # A local auction's seller may admit only bidders with at least this 매너온도 (None: anyone).
    # Checked by auctions.services._base.check_participant; ignored on national auctions.
    min_manner_temperature = models.DecimalField(
        _("최소 매너온도"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    is_hidden = models.BooleanField(_("숨김"), default=False)
    hidden_reason = models.TextField(_("숨김 사유"), blank=True)
    ending_soon_notified = models.BooleanField(_("마감 임박 알림 보냄"), default=False)
    # The verifiable bid log (issue 24, auctions/bidlog.py): the last leaf's number and hash, and
    # the per-auction secret of the bidders' pseudonyms (shown once the auction has ended).
    log_seq = models.PositiveIntegerField(_("입찰 기록 번호"), default=0)
    log_head = models.CharField(_("입찰 기록 해시"), max_length=64, blank=True, default="")
    log_salt = models.CharField(_("가명 비밀값"), max_length=32, default=new_log_salt, editable=False)
    created_at = models.DateTimeField(_("등록 시각"), auto_now_add=True)
    updated_at = models.DateTimeField(_("수정 시각"), auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # A bid that changes an indexed column writes into every index of this table, so no
        # index names a column most bids change (current_price, bid_count, leader: the lists
        # sort on sort_price / sort_bids, migration 0018), and keep only indexes something
        # reads. The open lists' sorts are served by migration 0008's partial indexes (0018
        # moved two of them to the sort keys); the worker reads auction_status_ends,
        # auction_status_starts and auction_sort_stale. (Migration 0017 dropped the status +
        # price, status + bid count and kind + status + end indexes, read by nothing since 0008.)
        # A soft close moves ends_at, so bids in an auction's last minute are not HOT.
        indexes = [
            models.Index(fields=["id"], condition=models.Q(sort_stale=True), name="auction_sort_stale"),
            models.Index(fields=["status", "ends_at"], name="auction_status_ends"),
            models.Index(fields=["status", "starts_at"], name="auction_status_starts"),
            models.Index(fields=["neighbourhood", "status", "ends_at"], name="auction_nbhd_status_ends"),
            models.Index(fields=["-created_at"], name="auction_created"),
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
            models.CheckConstraint(
                condition=models.Q(min_manner_temperature__isnull=True)
                | models.Q(min_manner_temperature__gte=0, min_manner_temperature__lte=99),
                name="auction_min_manner_temperature_range",
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

    auction = models.ForeignKey(Auction, on_delete=models.PROTECT, related_name="bids", verbose_name=_("경매"))
    bidder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bids", verbose_name=_("입찰자")
    )
    amount = models.BigIntegerField(_("입찰가"))
    # The bidder's maximum when this row was made (= amount for a plain bid); never public.
    max_amount = models.BigIntegerField(_("최대 입찰가"))
    kind = models.CharField(_("종류"), max_length=10, choices=Kind.choices, default=Kind.BID)
    client_request_id = models.CharField(_("요청 번호"), max_length=64)
    # default, not auto_now_add: the bid's writers stamp the clock read under the lock
    created_at = models.DateTimeField(_("입찰 시각"), default=timezone.now)

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


class BidLogLeaf(models.Model):
    """One public event of an auction's bid log (issue 24): a bid, an automatic bid, a buy-now,
    the settlement or a cancellation, as canonical JSON that names the previous leaf's hash.
    Append-only (on PostgreSQL a trigger refuses UPDATE and DELETE). auctions/bidlog.py."""

    auction = models.ForeignKey(Auction, on_delete=models.PROTECT, related_name="log", verbose_name=_("경매"))
    seq = models.PositiveIntegerField(_("번호"))
    kind = models.CharField(_("종류"), max_length=12)
    body = models.TextField(_("기록"))
    hash = models.CharField(_("해시"), max_length=64)
    created_at = models.DateTimeField(_("기록 시각"), default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["auction", "seq"], name="bidlog_auction_seq")]
        verbose_name = _("입찰 기록")
        verbose_name_plural = _("입찰 기록")

    def __str__(self) -> str:
        return f"{self.auction_id}#{self.seq}"


def auction_photo_path(instance: AuctionPhoto, filename: str) -> str:
    return f"auctions/{instance.auction_id}/{filename}"


class AuctionPhoto(models.Model):
    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, related_name="photos", verbose_name=_("경매"))
    image = models.ImageField(_("사진"), upload_to=auction_photo_path)
    thumbnail = models.ImageField(_("썸네일"), upload_to=auction_photo_path)
    position = models.PositiveSmallIntegerField(_("순서"), default=0)

    class Meta:
        verbose_name = _("경매 사진")
        verbose_name_plural = _("경매 사진")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"경매 #{self.auction_id} 사진 {self.position + 1}"


class Watch(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watches", verbose_name=_("회원")
    )
    auction = models.ForeignKey(Auction, on_delete=models.CASCADE, related_name="watches", verbose_name=_("경매"))
    created_at = models.DateTimeField(_("찜한 시각"), auto_now_add=True)

    class Meta:
        verbose_name = _("관심 경매")
        verbose_name_plural = _("관심 경매")
        constraints = [models.UniqueConstraint(fields=["user", "auction"], name="watch_unique")]

    def __str__(self) -> str:
        return f"회원 #{self.user_id}의 관심 경매 #{self.auction_id}"


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

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports_made", verbose_name=_("신고자")
    )
    auction = models.ForeignKey(
        Auction, on_delete=models.CASCADE, null=True, blank=True, related_name="reports", verbose_name=_("경매")
    )
    reported_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reports_received",
        verbose_name=_("신고된 회원"),
    )
    reason = models.CharField(_("사유"), max_length=20, choices=Reason.choices)
    text = models.TextField(_("내용"), blank=True)
    status = models.CharField(_("처리 상태"), max_length=20, choices=Status.choices, default=Status.OPEN)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("처리한 운영자"),
    )
    created_at = models.DateTimeField(_("신고 시각"), auto_now_add=True)

    class Meta:
        verbose_name = _("신고")
        verbose_name_plural = _("신고")
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "-id"], name="report_status")]

    def __str__(self) -> str:
        return f"신고 #{self.pk} ({self.get_reason_display()})"
