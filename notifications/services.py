"""The only writer of Notification. Every feature app calls `notification_create` inside its own
transaction; the row commits with the caller's change and the live push goes out after commit
(realtime.events). This module imports no feature app (an import contract keeps it so)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifications.models import Notification
from realtime.events import send_user_event_on_commit

if TYPE_CHECKING:
    from auctions.models import Auction


def notification_create(
    *,
    user_ids: list[int],
    kind: str,
    message: str,
    auction: Auction | None = None,
    extra: dict[str, object] | None = None,
) -> list[Notification]:
    """Notification rows in the caller's transaction, and a personal push to each user after
    commit. The only writer of Notification (other apps call this)."""
    notes = Notification.objects.bulk_create(
        [Notification(user_id=uid, kind=kind, auction=auction, message=message) for uid in user_ids]
    )
    for note in notes:
        event = {"type": "notification", "kind": kind, "notification_id": note.pk, "message": message}
        if auction is not None:
            event["auction_id"] = auction.pk
        send_user_event_on_commit(user_id=note.user_id, event={**event, **(extra or {})})
    return notes


def notify(
    *, user_id: int, kind: str, auction: Auction | None, message: str, extra: dict[str, object] | None = None
) -> None:
    notification_create(user_ids=[user_id], kind=kind, auction=auction, message=message, extra=extra)
