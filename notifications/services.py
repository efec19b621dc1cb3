"""The only writer of Notification. Every feature app calls `notification_create` inside its own
transaction; the row commits with the caller's change and the live push goes out after commit
(realtime.events). This module imports no feature app (an import contract keeps it so)."""

from __future__ import annotations

import base64
import binascii
import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.selectors import access_user
from neighborbid.commit import on_commit_robust
from neighborbid.errors import InvalidPushSubscription, InvalidRequest
from notifications.models import Notification, PushJob, PushPreference, PushSubscription
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
    push_jobs_on_commit(notification_ids=[note.pk for note in notes])
    return notes


def notify(
    *, user_id: int, kind: str, auction: Auction | None, message: str, extra: dict[str, object] | None = None
) -> None:
    notification_create(user_ids=[user_id], kind=kind, auction=auction, message=message, extra=extra)


# --- Web Push (issue 22) -------------------------------------------------------------------------

_JOB_TABLE = PushJob._meta.db_table
_NOTE_TABLE = Notification._meta.db_table
_SUB_TABLE = PushSubscription._meta.db_table


def _push_jobs_insert(notification_ids: list[int]) -> None:
    """One INSERT after commit: a pending job for each of these notifications whose user has a
    push subscription; none when nobody has one (the EXISTS is evaluated inside the statement)."""
    marks = ", ".join(["%s"] * len(notification_ids))
    sql = (
        f"INSERT INTO {_JOB_TABLE} (notification_id, user_id, kind, auction_id, status, due_at, attempts, done_sub_ids)"  # noqa: S608 (table names from meta)
        f" SELECT n.id, n.user_id, n.kind, n.auction_id, %s, %s, 0, '[]' FROM {_NOTE_TABLE} n"
        f" WHERE n.id IN ({marks})"
        f" AND EXISTS (SELECT 1 FROM {_SUB_TABLE} s WHERE s.user_id = n.user_id)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [PushJob.Status.PENDING, timezone.now(), *notification_ids])


def _chat_push_insert(user_id: int, room_id: int, message_id: int) -> None:
    """One INSERT after commit: a chat message's push job, or none when the neighbour has no
    push subscription. Whether the room is open on their screen is asked at send time."""
    sql = (
        f"INSERT INTO {_JOB_TABLE} (notification_id, user_id, kind, auction_id, room_id, message_id, "  # noqa: S608 (table names from meta)
        "status, due_at, attempts, done_sub_ids) SELECT NULL, %s, %s, NULL, %s, %s, %s, %s, 0, '[]' "
        f"WHERE EXISTS (SELECT 1 FROM {_SUB_TABLE} s WHERE s.user_id = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [user_id, Notification.Kind.CHAT, room_id, message_id, PushJob.Status.PENDING, timezone.now(), user_id],
        )


def chat_push_on_commit(*, user_id: int, room_id: int, message_id: int) -> None:
    """Register a chat message's push to the other side for after the chat write commits
    (never under the room's lock; a rolled-back message is never pushed)."""
    on_commit_robust(_chat_push_insert, user_id, room_id, message_id)


def push_jobs_on_commit(*, notification_ids: list[int]) -> None:
    """Register the push outbox's INSERT for after the caller's commit (never inside it, so a bid
    holds its auction lock no longer for push, and a rolled-back notification is never pushed).
    robust=True: a failed INSERT is logged and never turns a committed bid into an error."""
    if notification_ids:
        on_commit_robust(_push_jobs_insert, list(notification_ids))


def _b64url_bytes(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidPushSubscription() from exc


def push_subscription_save(
    *, user: object, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> PushSubscription:
    """Store this browser's subscription for the user (a re-subscribe of the same endpoint, even
    from another account on a shared device, moves it to this user and resets its failures)."""
    actor = access_user(user, allow_suspended=True)
    parts = urlsplit(endpoint or "")
    # push services are https; plain http only for a loopback endpoint when a test allows it
    # (the server POSTs to this URL: never let a user point it at an internal http service)
    loopback = parts.scheme == "http" and parts.hostname in {"127.0.0.1", "localhost"}
    if parts.scheme != "https" and not (loopback and getattr(settings, "PUSH_ALLOW_LOOPBACK_HTTP", False)):
        raise InvalidPushSubscription()
    if len(endpoint) > 1000 or len(_b64url_bytes(p256dh)) != 65 or len(_b64url_bytes(auth)) != 16:
        raise InvalidPushSubscription()
    with transaction.atomic():
        sub, _created = PushSubscription.objects.update_or_create(
            endpoint=endpoint,
            defaults={
                "user": actor,
                "p256dh": p256dh,
                "auth": auth,
                "user_agent": (user_agent or "")[:300],
                "failures": 0,
            },
        )
    return sub


def push_subscription_delete(*, user: object, endpoint: str) -> int:
    """Forget this browser's subscription (only the user's own). Returns how many were deleted."""
    actor = access_user(user, allow_suspended=True)
    with transaction.atomic():
        deleted, _ = PushSubscription.objects.filter(user=actor, endpoint=endpoint).delete()
    return deleted


def push_preference_update(
    *, user: object, disabled_kinds: list[str], quiet_start: datetime.time, quiet_end: datetime.time
) -> PushPreference:
    """The user's per-kind on/off and quiet hours."""
    actor = access_user(user, allow_suspended=True)
    known = set(Notification.Kind.values)
    if any(kind not in known for kind in disabled_kinds):
        raise InvalidRequest()
    with transaction.atomic():
        pref, _ = PushPreference.objects.update_or_create(
            user=actor,
            defaults={
                "disabled_kinds": sorted(set(disabled_kinds)),
                "quiet_start": quiet_start,
                "quiet_end": quiet_end,
            },
        )
    return pref
