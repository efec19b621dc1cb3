"""My notifications: newest first (cursor pages), mark one or all read."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router

from api.auth import actor
from api.schemas import MarkedOut, NotificationPage, NotificationRow, problems
from auctions import selectors
from auctions.services import notification_mark_read
from notifications.models import Notification

router = Router(tags=["notifications"])
PAGE_SIZE = 20


@router.get("", response={200: NotificationPage, **problems(401, 422)}, summary="알림 목록")
def notification_list(request: HttpRequest, before: Query[int | None] = None):
    user_id = actor(request).pk
    rows = selectors.user_notifications(user_id=user_id)
    if before is not None:
        rows = rows.filter(pk__lt=before)
    page = list(rows[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    page = page[:PAGE_SIZE]
    return NotificationPage(
        items=[
            NotificationRow(
                id=n.pk,
                kind=n.kind,
                message=n.message,
                auction_id=n.auction_id,
                created_at=n.created_at,
                read=n.read_at is not None,
            )
            for n in page
        ],
        unread=selectors.unread_notification_count(user_id=user_id),
        next_cursor=page[-1].pk if more else None,
    )


@router.post("/{notification_id}/read", response={200: MarkedOut, **problems(401, 403, 404)}, summary="알림 읽음")
def notification_read(request: HttpRequest, notification_id: int):
    """Someone else's notification (or none) is 404, and stays as it was."""
    user = actor(request)
    if not Notification.objects.filter(pk=notification_id, user_id=user.pk).exists():
        from django.http import Http404

        raise Http404
    return MarkedOut(marked=notification_mark_read(actor=user, notification_id=notification_id))


@router.post("/read-all", response={200: MarkedOut, **problems(401, 403)}, summary="알림 모두 읽음")
def notifications_read_all(request: HttpRequest):
    return MarkedOut(marked=notification_mark_read(actor=actor(request)))
