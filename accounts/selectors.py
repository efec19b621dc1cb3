"""Reads about users and neighbourhoods, including the neighbourhood-trust rule's inputs."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import Neighbourhood

EARTH_RADIUS_KM = 6371.0088


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def neighbourhood_distance_km(a: Neighbourhood, b: Neighbourhood) -> float:
    return distance_km(a.latitude, a.longitude, b.latitude, b.longitude)


def neighbourhood_distances(*, origin: Neighbourhood) -> dict[int, float]:
    """Distance from `origin` to every neighbourhood, by id (the table is small: tens of rows)."""
    return {
        n.pk: distance_km(origin.latitude, origin.longitude, n.latitude, n.longitude)
        for n in Neighbourhood.objects.only("id", "latitude", "longitude")
    }


def neighbourhood_ids_within(*, origin: Neighbourhood, radius_km: float) -> list[int]:
    return [pk for pk, km in neighbourhood_distances(origin=origin).items() if km <= radius_km]


def user_location_verified(user, *, now: datetime | None = None) -> bool:
    """Verified within the last VERIFY_VALID_DAYS days (then we ask again)."""
    if not getattr(user, "is_authenticated", False) or user.location_verified_at is None:
        return False
    if user.neighbourhood_id is None:
        return False
    now = now or timezone.now()
    return now - user.location_verified_at <= timedelta(days=settings.NEIGHBORBID["VERIFY_VALID_DAYS"])
