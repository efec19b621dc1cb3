"""매너온도 display: `{{ user.manner_temperature|temperature_badge }}` (formatting only; the
bands and the formula live in reviews.rules)."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from reviews.rules import BASE_TEMPERATURE, MAX_TEMPERATURE, temperature_band

register = template.Library()


def _value(value) -> Decimal:
    try:
        t = Decimal(str(value)) if value not in (None, "") else BASE_TEMPERATURE
    except ArithmeticError:
        return BASE_TEMPERATURE
    return t if t.is_finite() else BASE_TEMPERATURE


@register.filter
def temperature_badge(value, size: str = "") -> str:
    """A coloured 매너온도 chip: blue under 36.5 °C, green at the start, yellow, orange and red
    as it rises. `size` "big" adds a gauge (the profile page)."""
    t = _value(value)
    css, label = temperature_band(t)
    text = f"{t:.1f}°C"
    if size == "big":
        percent = max(0, min(100, int(t / MAX_TEMPERATURE * 100)))
        return format_html(
            '<span class="temp temp--{} temp--big" title="{}">'
            '<span class="temp__label">{}</span> <strong class="temp__value">{}</strong> '
            '<span class="temp__mood">{}</span>'
            '<span class="temp__gauge" aria-hidden="true"><span style="width: {}%"></span></span></span>',
            css,
            _("매너온도"),
            _("매너온도"),
            text,
            label,
            percent,
        )
    return format_html(
        '<span class="temp temp--{}" title="{} · {}">{}</span>',
        css,
        _("매너온도"),
        label,
        text,
    )
