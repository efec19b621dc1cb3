"""The header's chat badge: messages waiting for the signed-in user over all their rooms."""

from __future__ import annotations

from chat.selectors import unread_chat_count


def chat_header(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"chat_unread": 0}
    return {"chat_unread": unread_chat_count(user_id=user.pk)}
