"""The shill-bidding scan: turn pairs with two or more independent signals into cases for the
moderators (자동 탐지). Runs for a seller once their auction's settlement has committed
(on_auction_settled) and for everyone nightly (`manage.py shill_scan`). Never cancels,
refunds or suspends anything: moderators decide, with the evidence on one page."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_staff
from fraud.models import ShillCase
from fraud.rules import is_suspicious, pair_signals
from fraud.selectors import pair_histories
from neighborbid.errors import InvalidRequest

logger = logging.getLogger("neighborbid.fraud")
WINDOW = timedelta(days=180)
REVIEW = "fraud.change_shillcase"


@dataclass
class ScanResult:
    pairs: int = 0
    opened: int = 0
    updated: int = 0


def shill_scan(*, seller_ids: Iterable[int] | None = None, now: datetime | None = None) -> ScanResult:
    """Scan the (seller, bidder) pairs of the window; open or refresh a case per suspicious pair.

    A pair a moderator already closed is opened again only when a signal they did not see
    fires (the same evidence is not put in front of them twice)."""
    now = now or timezone.now()
    result = ScanResult()
    for history in pair_histories(since=now - WINDOW, seller_ids=seller_ids):
        result.pairs += 1
        signals = pair_signals(history)
        if not is_suspicious(signals):
            continue
        codes = {s.code for s in signals}
        evidence = [s.as_dict() for s in signals]
        auction_ids = sorted({a.id for a in history.auctions})
        with transaction.atomic():
            case = (
                ShillCase.objects.select_for_update()
                .filter(seller_id=history.seller_id, bidder_id=history.bidder_id, status=ShillCase.Status.OPEN)
                .first()
            )
            if case is not None:
                if case.signals != evidence or case.auction_ids != auction_ids:
                    case.signals, case.signal_count, case.auction_ids = evidence, len(codes), auction_ids
                    case.save(update_fields=["signals", "signal_count", "auction_ids", "updated_at"])
                    result.updated += 1
                continue
            closed = (
                ShillCase.objects.filter(seller_id=history.seller_id, bidder_id=history.bidder_id)
                .order_by("-id")
                .values_list("signals", flat=True)
                .first()
            )
            if closed is not None and codes <= {s["code"] for s in closed}:
                continue
            try:
                with transaction.atomic():  # a savepoint: a scan racing this one may win the pair
                    ShillCase.objects.create(
                        seller_id=history.seller_id,
                        bidder_id=history.bidder_id,
                        signals=evidence,
                        signal_count=len(codes),
                        auction_ids=auction_ids,
                    )
            except IntegrityError:
                continue
            result.opened += 1
            logger.info(
                "shill case opened",
                extra={"seller_id": history.seller_id, "bidder_id": history.bidder_id, "signals": sorted(codes)},
            )
    return result


def on_auction_settled(*, seller_id: int, **kwargs: Any) -> ScanResult:
    """auctions.signals.auction_settled receiver: scan the seller's pairs."""
    return shill_scan(seller_ids=[seller_id])


def shill_case_resolve(*, case_id: int, staff_user: User, status: str, note: str = "") -> ShillCase:
    """A moderator closes a case: 문제 없음 (dismissed) or 조치 완료 (actioned: the moderator
    suspended or warned through the existing tools)."""
    staff = access_staff(staff_user, perm=REVIEW)
    if status not in (ShillCase.Status.DISMISSED, ShillCase.Status.ACTIONED):
        raise InvalidRequest("처리 결과를 골라 주세요.")
    with transaction.atomic():
        case = ShillCase.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise InvalidRequest("찾을 수 없는 탐지 건이에요.")
        if case.status != ShillCase.Status.OPEN:
            raise InvalidRequest("이미 처리된 탐지 건이에요.")
        case.status, case.handled_by, case.handled_note = status, staff, note.strip()[:1000]
        case.save(update_fields=["status", "handled_by", "handled_note", "updated_at"])
    return case
