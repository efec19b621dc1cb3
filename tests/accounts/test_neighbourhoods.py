"""The 동 of the six metropolitan cities (accounts/migrations/0004_metropolitan_neighbourhoods)."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps
from django.test import Client
from django.urls import reverse

from accounts.models import Neighbourhood, User

pytestmark = pytest.mark.django_db

MIGRATION = import_module("accounts.migrations.0004_metropolitan_neighbourhoods")

# (lat min, lat max, lon min, lon max) of each city: a typo in a coordinate lands outside.
CITIES = {
    "부산광역시": (34.95, 35.40, 128.80, 129.32),
    "대구광역시": (35.70, 36.05, 128.35, 128.80),
    "인천광역시": (37.25, 37.80, 126.35, 126.80),
    "광주광역시": (35.05, 35.26, 126.65, 127.02),
    "대전광역시": (36.18, 36.50, 127.25, 127.56),
    "울산광역시": (35.32, 35.75, 129.00, 129.47),
}


def test_every_metropolitan_city_has_its_dong_inside_the_city():
    for city, (lat_lo, lat_hi, lon_lo, lon_hi) in CITIES.items():
        rows = list(Neighbourhood.objects.filter(district__startswith=city + " "))
        assert len(rows) >= 8, city
        assert len({row.district for row in rows}) >= 4, f"{city}: several 구"
        for row in rows:
            assert lat_lo <= row.latitude <= lat_hi and lon_lo <= row.longitude <= lon_hi, row
    haeundae = Neighbourhood.objects.get(district="부산광역시 해운대구", name="우동")
    assert abs(haeundae.latitude - 35.163) < 0.01 and abs(haeundae.longitude - 129.163) < 0.01


def test_the_migration_is_reversible():
    total = Neighbourhood.objects.count()
    MIGRATION.backwards(apps, None)
    assert not Neighbourhood.objects.filter(district__startswith="울산광역시").exists()
    assert Neighbourhood.objects.count() == total - len(MIGRATION.NEIGHBOURHOODS)
    assert Neighbourhood.objects.filter(district="서울특별시 마포구", name="합정동").exists()  # 0002's stay
    MIGRATION.forwards(apps, None)
    MIGRATION.forwards(apps, None)  # idempotent
    assert Neighbourhood.objects.count() == total


def test_someone_in_busan_signs_up_and_verifies_their_own_dong():
    udong = Neighbourhood.objects.get(district="부산광역시 해운대구", name="우동")
    client = Client()
    page = client.get(reverse("accounts:signup")).content.decode()
    assert "우동 (부산광역시 해운대구)" in page
    response = client.post(
        reverse("accounts:signup"),
        {
            "username": "haeundae",
            "nickname": "해운대댁",
            "neighbourhood": udong.pk,
            "password1": "sea-breeze-lamp-42",
            "password2": "sea-breeze-lamp-42",
        },
    )
    assert response.status_code == 302
    response = client.post(
        reverse("accounts:verify"),
        {"neighbourhood": udong.pk, "latitude": "35.1631", "longitude": "129.1636"},
    )
    assert response.status_code == 302
    user = User.objects.get(username="haeundae")
    assert user.neighbourhood == udong and user.location_verified_at is not None
