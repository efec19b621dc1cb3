from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Wallet(models.Model):
    """Whole-won escrow wallet. Only `wallets.services` writes these two numbers."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet", verbose_name=_("회원")
    )
    balance = models.BigIntegerField(_("사용 가능 잔액"), default=0)
    locked_balance = models.BigIntegerField(_("입찰 중 잠긴 금액"), default=0)
    updated_at = models.DateTimeField(_("변경 시각"), auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="wallet_balance_non_negative"),
            models.CheckConstraint(condition=models.Q(locked_balance__gte=0), name="wallet_locked_non_negative"),
        ]
        verbose_name = _("지갑")
        verbose_name_plural = _("지갑")

    def __str__(self) -> str:
        return f"{self.user} 지갑"

    @property
    def total(self) -> int:
        return self.balance + self.locked_balance


class LedgerQuerySet(models.QuerySet["LedgerEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("Ledger entries are append-only: update() is refused.")

    def delete(self) -> NoReturn:
        raise TypeError("Ledger entries are append-only: delete() is refused.")

    # bulk_update goes through update(); refused the same way.


class LedgerEntry(models.Model):
    """One immutable movement of one wallet. The database refuses UPDATE and DELETE too."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("충전")
        WITHDRAWAL = "withdrawal", _("출금")
        BID_HOLD = "bid_hold", _("입찰 보류")
        HOLD_RELEASE = "hold_release", _("입찰 보류 해제")
        PURCHASE = "purchase", _("구매 대금 지급")
        SALE_PROCEEDS = "sale_proceeds", _("판매 대금 입금")
        ADJUSTMENT = "adjustment", _("관리자 정정")
        # Since trades (issue 10): a sale moves the buyer's money into the trade's escrow, and
        # the trade pays it out once: to the seller, back to the buyer, or split between them.
        # PURCHASE / SALE_PROCEEDS remain valid history of the sales before trades.
        TRADE_ESCROW = "trade_escrow", _("거래 대금 보관")
        TRADE_RELEASE = "trade_release", _("거래 대금 정산")
        TRADE_REFUND = "trade_refund", _("거래 대금 환불")

    # Kinds that bring money into or out of the platform (the books' external side).
    EXTERNAL_KINDS = (Kind.DEPOSIT, Kind.WITHDRAWAL, Kind.ADJUSTMENT)

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="entries", verbose_name=_("지갑"))
    kind = models.CharField(_("종류"), max_length=20, choices=Kind.choices)
    balance_delta = models.BigIntegerField(_("잔액 변동"))
    locked_delta = models.BigIntegerField(_("잠긴 금액 변동"))
    balance_after = models.BigIntegerField(_("변동 후 잔액"))
    locked_after = models.BigIntegerField(_("변동 후 잠긴 금액"))
    auction = models.ForeignKey(
        "auctions.Auction", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("경매")
    )
    bid = models.ForeignKey(
        "auctions.Bid", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("입찰")
    )
    # The trade whose escrow this entry fills or pays out (by string: wallets imports no trades).
    trade = models.ForeignKey(
        "trades.Trade", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("거래")
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("처리한 운영자"),
    )
    memo = models.CharField(_("메모"), max_length=200, blank=True)
    # default, not auto_now_add: the bid's writers stamp the clock read under the lock
    created_at = models.DateTimeField(_("시각"), default=timezone.now, db_index=True)
    # The client's request id of a top-up or withdrawal (the API's Idempotency-Key): the same id
    # again answers with this entry instead of moving money twice (wallets.services). NULL when
    # there is none: the bid's one-statement insert (wallet_moves_sql) leaves the column out.
    client_request_id = models.CharField(  # noqa: DJ001 (NULL, not "": unique only where set, and raw inserts omit it)
        _("요청 번호"), max_length=64, null=True, blank=True, editable=False
    )

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["wallet", "-id"], name="ledger_wallet_recent")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance_after__gte=0) & models.Q(locked_after__gte=0),
                name="ledger_after_non_negative",
            ),
            models.UniqueConstraint(
                fields=["wallet", "client_request_id"],
                condition=models.Q(client_request_id__isnull=False),
                name="ledger_unique_request",
            ),
        ]
        verbose_name = _("거래 내역")
        verbose_name_plural = _("거래 내역")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.balance_delta:+,}/{self.locked_delta:+,}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Ledger entries are append-only: they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Ledger entries are append-only: they cannot be deleted.")
