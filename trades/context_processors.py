"""Header data: how many trades wait on the signed-in user (the 나의 거래 badge)."""

from __future__ import annotations

from django.http import HttpRequest

from trades.selectors import trades_needing_action_count


def header(request: HttpRequest) -> dict[str, int]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"trades_todo": 0}
    return {"trades_todo": trades_needing_action_count(user_id=user.pk)}
