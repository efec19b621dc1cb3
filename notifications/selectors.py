"""Reads of the push settings (issue 22)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from notifications.models import PushPreference, PushSubscription


@dataclass
class PushSettings:
    disabled_kinds: list[str] = field(default_factory=list)
    quiet_start: datetime.time = datetime.time(21, 0)
    quiet_end: datetime.time = datetime.time(8, 0)
    devices: list[PushSubscription] = field(default_factory=list)


def push_settings(*, user_id: int) -> PushSettings:
    pref = PushPreference.objects.filter(user_id=user_id).first()
    devices = list(PushSubscription.objects.filter(user_id=user_id).order_by("-created_at"))
    if pref is None:
        return PushSettings(devices=devices)
    return PushSettings(list(pref.disabled_kinds), pref.quiet_start, pref.quiet_end, devices)
