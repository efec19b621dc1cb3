"""Display helpers for the templates (formatting only, no rules)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

from auctions.rules import mask_name
from neighborbid import korean

register = template.Library()


@register.filter
def won(value) -> str:
    """12000 → '12,000원'."""
    if value is None or value == "":
        return ""
    try:
        return f"{int(value):,}원"
    except (TypeError, ValueError):
        return ""


@register.filter
def signed_won(value) -> str:
    try:
        value = int(value)
    except (TypeError, ValueError):
        return ""
    if value == 0:
        return "0원"
    return f"{value:+,}원"


@register.filter
def km(value) -> str:
    if value is None:
        return ""
    value = float(value)
    if value < 0.1:
        return _("같은 동네")
    return f"{value:.1f}km"


@register.filter
def timeleft(ends_at: datetime | None) -> str:
    """'3일 남음', '2시간 5분 남음', '12분 남음', '마감'."""
    if ends_at is None:
        return ""
    seconds = int((ends_at - timezone.now()).total_seconds())
    if seconds <= 0:
        return _("마감")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)s일 %(h)s시간 남음") % {"d": days, "h": hours}
    if hours:
        return _("%(h)s시간 %(m)s분 남음") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)s분 남음") % {"m": minutes}
    return _("곧 마감")


@register.filter
def ago(value: datetime | None) -> str:
    """'방금 전' under a minute (never '0분 전'), else '5분 전', '3시간 전', '2일 전'."""
    if value is None:
        return ""
    if (timezone.now() - value).total_seconds() < 60:
        return _("방금 전")
    return _("%(when)s 전") % {"when": timesince(value, depth=1)}


@register.filter
def josa(word, pair: str) -> str:
    """{{ title|josa:"을/를" }} → '원목 책상을' (neighborbid.korean)."""
    return korean.josa(str(word), pair)


@register.filter
def particle(word, pair: str) -> str:
    """Only the particle, for copy that quotes the word: '{{ t }}'{{ t|particle:"을/를" }}."""
    return korean.particle(str(word), pair)


@register.filter
def media(path) -> str:
    """A stored file path (e.g. an annotated thumbnail) → its URL."""
    if not path:
        return ""
    return default_storage.url(str(path))


@register.filter
def masked(name) -> str:
    return mask_name(str(name or ""))


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None
