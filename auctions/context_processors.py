"""Header data for every page: the unread-notification badge and neighbourhood status."""

from __future__ import annotations

from accounts.selectors import user_location_verified
from auctions.selectors import unread_notification_count


def header(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_count": 0, "location_verified": False}
    return {
        "unread_count": unread_notification_count(user_id=user.pk),
        "location_verified": user_location_verified(user),
    }
