"""Watching (찜), reading notifications and reports: the small things users do around auctions.
(Notifications are written by notifications.services.notification_create.)"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import access_staff, access_user
from auctions.models import Auction, Report, Watch
from neighborbid.errors import AuctionNotFound, AuctionNotOpen, InvalidRequest
from notifications.models import Notification

logger = logging.getLogger("neighborbid.money")


def watch_toggle(*, actor: User, auction_id: int) -> bool:
    """Watch (찜) or unwatch an auction. Returns True when now watching. (Not a money action: a
    suspended user may still tidy their watchlist.) Safe against a double submit: the unique
    constraint decides, and the second of two simultaneous watches is a no-op."""
    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        if not Auction.objects.filter(pk=auction_id, is_hidden=False).exists():
            raise AuctionNotOpen("찜할 수 없는 경매예요.")
        deleted, _ = Watch.objects.filter(user=user, auction_id=auction_id).delete()
        if deleted:
            return False
        try:
            with transaction.atomic():
                Watch.objects.create(user=user, auction_id=auction_id)
        except IntegrityError:
            pass  # the twin of this request won: watching either way
        return True


def watch_set(*, actor: User, auction_id: int, watching: bool) -> bool:
    """Watch or unwatch, as asked (the API's PUT / DELETE: the same call twice ends the same way,
    unlike a toggle). Watching needs a visible auction (AuctionNotFound otherwise); unwatching
    never fails (a hidden auction may be tidied away). Returns `watching`."""
    user = access_user(actor, allow_suspended=True)
    with transaction.atomic():
        if not watching:
            Watch.objects.filter(user=user, auction_id=auction_id).delete()
            return False
        if not Auction.objects.filter(pk=auction_id, is_hidden=False).exists():
            raise AuctionNotFound()
        try:
            with transaction.atomic():
                Watch.objects.get_or_create(user=user, auction_id=auction_id)
        except IntegrityError:
            pass  # a twin request won: watching either way
        return True


def notification_mark_read(*, actor: User, notification_id: int | None = None) -> int:
    """Mark one (or, without an id, all) of the user's notifications read."""
    user = access_user(actor, allow_suspended=True)
    qs = Notification.objects.filter(user_id=user.pk, read_at__isnull=True)
    if notification_id is not None:
        qs = qs.filter(pk=notification_id)
    return qs.update(read_at=timezone.now())


def report_create(
    *, actor: User, reason: str, text: str = "", auction_id: int | None = None, reported_user_id: int | None = None
) -> Report:
    user = access_user(actor)
    if reason not in Report.Reason.values:
        raise InvalidRequest("신고 사유를 골라 주세요.")
    if auction_id is None and reported_user_id is None:
        raise InvalidRequest("신고할 경매나 사용자를 정해 주세요.")
    if len(text or "") > 2000:
        raise InvalidRequest("신고 내용은 2,000자 이하로 입력해 주세요.")
    if auction_id is not None and not Auction.objects.filter(pk=auction_id).exists():
        raise InvalidRequest("신고할 경매를 찾을 수 없어요.")
    if reported_user_id is not None and not User.objects.filter(pk=reported_user_id).exists():
        raise InvalidRequest("신고할 사용자를 찾을 수 없어요.")
    if reported_user_id == user.pk:
        raise InvalidRequest("자기 자신은 신고할 수 없어요.")
    return Report.objects.create(
        reporter=user, reason=reason, text=text or "", auction_id=auction_id, reported_user_id=reported_user_id
    )


def report_resolve(*, report_id: int, staff_user: User, status: str) -> Report:
    """Moderation: close a report as dismissed or actioned, naming the staff user. The action
    itself (hide, suspend) is a separate service call; this only records the outcome."""
    staff = access_staff(staff_user, perm="auctions.change_report")
    if status not in (Report.Status.DISMISSED, Report.Status.ACTIONED):
        raise InvalidRequest("신고 처리 결과를 골라 주세요.")
    with transaction.atomic():
        report = Report.objects.select_for_update().filter(pk=report_id).first()
        if report is None:
            raise InvalidRequest("신고를 찾을 수 없어요.")
        report.status = status
        report.handled_by = staff
        report.save(update_fields=["status", "handled_by"])
    logger.info("report resolved id=%s status=%s staff=%s", report_id, status, staff.pk)
    return report
