"""Chat between neighbours: public questions on a listing, and the private room of a trade.

Only chat.services writes these rows. Messages are never deleted or edited by users (hiding
is per user, a MessageHide row), so a dispute always has its evidence."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

TEXT_MAX = 1000
QUESTION_MAX = 500


class Question(models.Model):
    """A public question on a listing; the seller answers in its thread (Answer rows)."""

    auction = models.ForeignKey(
        "auctions.Auction", on_delete=models.CASCADE, related_name="questions", verbose_name=_("경매")
    )
    asker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="questions_asked",
        verbose_name=_("문의한 사람"),
    )
    text = models.TextField(_("질문"), max_length=QUESTION_MAX)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("작성 시각"))

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["auction", "-id"], name="question_auction_newest")]
        verbose_name = _("상품 문의")
        verbose_name_plural = _("상품 문의")

    def __str__(self) -> str:
        return self.text[:50]


class Answer(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers", verbose_name=_("문의"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("답변한 사람")
    )
    text = models.TextField(_("답변"), max_length=QUESTION_MAX)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("작성 시각"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("문의 답변")
        verbose_name_plural = _("문의 답변")

    def __str__(self) -> str:
        return self.text[:50]


class Room(models.Model):
    """The private room of one trade: its buyer and seller (moderators read it once reported).
    `seq` is the number of the last message; each side's `*_read_seq` is the last it has read."""

    class Status(models.TextChoices):
        OPEN = "open", _("열림")
        CLOSED = "closed", _("운영자가 닫음")

    trade = models.OneToOneField(
        "trades.Trade", on_delete=models.PROTECT, related_name="chat_room", verbose_name=_("거래")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("구매자")
    )
    seller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("판매자")
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, verbose_name=_("상태"))
    seq = models.BigIntegerField(default=0, verbose_name=_("메시지 번호"))
    buyer_read_seq = models.BigIntegerField(default=0, verbose_name=_("구매자가 읽은 번호"))
    seller_read_seq = models.BigIntegerField(default=0, verbose_name=_("판매자가 읽은 번호"))
    meeting = models.ForeignKey(
        "Message", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("약속")
    )
    last_message_at = models.DateTimeField(null=True, blank=True, verbose_name=_("마지막 메시지 시각"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("닫은 시각"))
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("닫은 사람"),
    )
    closed_reason = models.TextField(blank=True, verbose_name=_("닫은 사유"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("생성 시각"))

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["buyer", "-last_message_at"], name="room_buyer_recent"),
            models.Index(fields=["seller", "-last_message_at"], name="room_seller_recent"),
        ]
        verbose_name = _("채팅방")
        verbose_name_plural = _("채팅방")

    def __str__(self) -> str:
        return f"채팅방 #{self.pk}"

    def other_id(self, user_id: int) -> int:
        return self.seller_id if user_id == self.buyer_id else self.buyer_id


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("메시지")
        PHOTO = "photo", _("사진")
        MEETING = "meeting", _("거래 약속")
        SYSTEM = "system", _("안내")

    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="messages", verbose_name=_("채팅방"))
    seq = models.BigIntegerField(verbose_name=_("번호"))
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("보낸 사람")
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT, verbose_name=_("종류"))
    text = models.TextField(max_length=TEXT_MAX, blank=True, verbose_name=_("내용"))
    client_id = models.CharField(max_length=64, blank=True, verbose_name=_("클라이언트 ID"))
    image = models.ImageField(upload_to="chat/", blank=True, verbose_name=_("사진"))
    thumbnail = models.ImageField(upload_to="chat/", blank=True, verbose_name=_("미리보기"))
    place = models.CharField(max_length=100, blank=True, verbose_name=_("장소"))
    place_neighbourhood = models.ForeignKey(
        "accounts.Neighbourhood",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("장소 동네"),
    )
    meet_at = models.DateTimeField(null=True, blank=True, verbose_name=_("약속 시각"))
    accepted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("수락 시각"))
    warning = models.BooleanField(
        default=False, verbose_name=_("주의 문구")
    )  # a phone or account number: "안전결제를 이용하세요"
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("보낸 시각"))

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_room_seq"),
            models.UniqueConstraint(
                fields=["room", "sender", "client_id"],
                condition=~models.Q(client_id=""),
                name="message_client_id_once",
            ),
        ]
        verbose_name = _("채팅 메시지")
        verbose_name_plural = _("채팅 메시지")

    def __str__(self) -> str:
        return f"#{self.seq} {self.text[:40]}"


class MessageHide(models.Model):
    """A user hid a message for themselves (the other side and moderators still see it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("회원")
    )
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="hides", verbose_name=_("메시지"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("숨긴 시각"))

    class Meta:
        verbose_name = _("숨긴 메시지")
        verbose_name_plural = _("숨긴 메시지")
        constraints = [models.UniqueConstraint(fields=["user", "message"], name="message_hide_once")]

    def __str__(self) -> str:
        return f"hidden {self.message_id} for {self.user_id}"


class Block(models.Model):
    """`blocker` no longer hears from `blocked` (messages and questions); trades go on."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("차단한 사람")
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("차단된 사람")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("차단 시각"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once"),
            models.CheckConstraint(condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"),
        ]
        verbose_name = _("차단")
        verbose_name_plural = _("차단")

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class ChatReport(models.Model):
    """A reported message (or room), in the admin's chat report queue with the conversation
    around it. Its existence is what lets moderators read the room."""

    class Status(models.TextChoices):
        OPEN = "open", _("접수")
        DISMISSED = "dismissed", _("기각")
        ACTIONED = "actioned", _("조치 완료")

    class Reason(models.TextChoices):
        FRAUD = "fraud", _("사기 의심")
        ABUSE = "abuse", _("욕설/비매너")
        SPAM = "spam", _("광고/도배")
        OTHER = "other", _("기타")

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("신고한 사람")
    )
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="reports", verbose_name=_("채팅방"))
    message = models.ForeignKey(
        Message, on_delete=models.PROTECT, null=True, blank=True, related_name="reports", verbose_name=_("메시지")
    )
    reason = models.CharField(max_length=20, choices=Reason.choices, verbose_name=_("사유"))
    text = models.TextField(blank=True, verbose_name=_("설명"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN, verbose_name=_("상태"))
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("처리한 사람"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("신고 시각"))

    class Meta:
        ordering = ["status", "-id"]
        verbose_name = _("채팅 신고")
        verbose_name_plural = _("채팅 신고")

    def __str__(self) -> str:
        return f"채팅 신고 #{self.pk}"
