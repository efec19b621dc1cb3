"""Web Push bits for templates: the VAPID public key and the account page's push settings."""

from __future__ import annotations

from django import template
from django.conf import settings

from notifications.models import Notification
from notifications.selectors import push_settings

register = template.Library()


@register.simple_tag
def vapid_public_key() -> str:
    return settings.VAPID_PUBLIC_KEY


@register.inclusion_tag("notifications/push_settings.html", takes_context=True)
def push_settings_form(context) -> dict:
    user = context["user"]
    data = push_settings(user_id=user.pk)
    return {
        "vapid_public_key": settings.VAPID_PUBLIC_KEY,
        "kinds": [(value, label, value not in data.disabled_kinds) for value, label in Notification.Kind.choices],
        "quiet_start": data.quiet_start,
        "quiet_end": data.quiet_end,
        "devices": data.devices,
        "csrf_token": context.get("csrf_token"),
    }
