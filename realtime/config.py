"""The REALTIME settings (neighborbid/settings.py), read in one place."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def realtime_setting(name: str, default: Any) -> Any:
    return getattr(settings, "REALTIME", {}).get(name, default)
