"""Template helpers for pages outside the trades app (the wallet page) that show trade sums."""

from __future__ import annotations

from typing import Any

from django import template

from trades.selectors import wallet_trade_sums

register = template.Library()


@register.simple_tag
def trade_sums(user: Any) -> dict[str, int]:
    """{"incoming": 정산 예정, "in_trades": 거래 중인 금액} for the signed-in user."""
    if user is None or not user.is_authenticated:
        return {"incoming": 0, "in_trades": 0}
    return wallet_trade_sums(user_id=user.pk)
