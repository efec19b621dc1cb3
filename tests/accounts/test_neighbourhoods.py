"""The national 동 table (accounts/data/korea_dong.csv): the loader, the nearest 동 and the search."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.geodata import district_label, read_rows, sigungu_label
from accounts.models import Neighbourhood, User
from accounts.selectors import neighbourhood_nearest, neighbourhood_search
from accounts.services import neighbourhoods_load
from tests.factories import ensure_neighbourhoods, make_user

pytestmark = pytest.mark.django_db

ROWS = read_rows()


def snapshot() -> list[tuple]:
    return list(
        Neighbourhood.objects.order_by("pk").values_list(
            "pk", "code", "name", "district", "latitude", "longitude", "is_offered", "legacy_name"
        )
    )


def test_every_dong_of_the_file_is_offered_with_its_district():
    ensure_neighbourhoods()
    offered = Neighbourhood.objects.filter(is_offered=True)
    assert len(ROWS) == 3512
    assert set(offered.values_list("code", flat=True)) == {row.code for row in ROWS}
    ildo = Neighbourhood.objects.get(code="5011051000")
    assert ildo.full_name == "제주특별자치도 제주시 일도1동"
    assert Neighbourhood.objects.get(code="4113565000").district == "경기도 성남시 분당구"
    assert sigungu_label("성남시분당구") == "성남시 분당구" and sigungu_label("제주시") == "제주시"
    assert district_label("세종특별자치시", "세종시") == "세종특별자치시"


def test_the_loader_is_idempotent_and_keeps_the_hand_typed_rows():
    # given the migrated table (the 117 hand-typed 동 of 0002/0004 matched, the rest added)
    ensure_neighbourhoods()
    yeoksam = Neighbourhood.objects.get(district="서울특별시 강남구", name="역삼1동")
    user = make_user(place=yeoksam)
    before = snapshot()
    # when it runs again
    assert neighbourhoods_load() == {}
    # then nothing changed
    assert snapshot() == before
    assert User.objects.get(pk=user.pk).neighbourhood_id == yeoksam.pk


def test_a_hand_typed_row_keeps_its_id_and_takes_the_nearest_code_of_its_name():
    # given a table with only old-style rows, one used by a neighbour
    Neighbourhood.objects.all().delete()
    create = Neighbourhood.objects.create
    old = create(district="서울특별시 강남구", name="역삼동", latitude=37.5006, longitude=127.0366)
    same = create(district="서울특별시 마포구", name="합정동", latitude=37.5497, longitude=126.9139)
    gone = create(district="서울특별시 관악구", name="봉천동", latitude=37.4823, longitude=126.9416)
    user = make_user(place=old)
    # when the table is loaded
    report = neighbourhoods_load()
    # then the old rows keep their ids; matched ones take the code, name and centre of the table
    assert report["matched"] == 2 and report["retired"] == 1 and report["created"] == len(ROWS) - 2
    old.refresh_from_db()
    same.refresh_from_db()
    gone.refresh_from_db()
    assert (old.code, old.name, old.legacy_name) == ("1168064000", "역삼1동", "역삼동")
    assert (same.code, same.name, same.latitude) == ("1144068000", "합정동", 37.54697)
    assert gone.code is None and not gone.is_offered  # kept for its users and listings, not offered
    assert User.objects.get(pk=user.pk).neighbourhood_id == old.pk
    assert Neighbourhood.objects.count() == len(ROWS) + 1
    # a renamed 동 (same code, new name) is updated, not duplicated; a vanished one is not offered
    renamed = [row.__class__(**{**row.__dict__, "name": "새이름동"}) if row.code == old.code else row for row in ROWS]
    renamed = [row for row in renamed if row.code != "1144068000"]
    assert neighbourhoods_load(rows=renamed) == {"updated": 1, "retired": 1}
    old.refresh_from_db()
    same.refresh_from_db()
    assert old.name == "새이름동" and not same.is_offered and Neighbourhood.objects.count() == len(ROWS) + 1


PLACES = [
    # (where, lat, lng, the nearest 동)
    ("제주 일도1동", 33.5130, 126.5300, "일도1동"),
    ("제주공항", 33.5066, 126.4929, "용담2동"),
    ("서귀포 중문", 33.2480, 126.4120, "중문동"),
    ("전주 한옥마을", 35.8150, 127.1530, "풍남동"),
    ("전주역", 35.8500, 127.1620, "우아1동"),
    ("부산 해운대 해수욕장", 35.1587, 129.1604, "중1동"),
    ("부산역", 35.1151, 129.0422, "초량3동"),
    ("강릉역", 37.7640, 128.8990, "옥천동"),
    ("경포대", 37.7955, 128.8965, "경포동"),
    ("서울 시청", 37.5663, 126.9779, "소공동"),
    ("분당 정자역", 37.3670, 127.1080, "정자1동"),
    ("울릉도 도동", 37.4840, 130.9060, "울릉읍"),
]


@pytest.mark.parametrize(("where", "lat", "lng", "expected"), PLACES, ids=[p[0] for p in PLACES])
def test_the_nearest_dong_of_real_places(where, lat, lng, expected):
    ensure_neighbourhoods()
    found = neighbourhood_nearest(latitude=lat, longitude=lng, limit=3)
    assert len(found) == 3, where
    assert [km for _, km in found] == sorted(km for _, km in found)
    # the page proposes these three: the expected 동 is among them (its centre may not be the nearest)
    assert expected in [n.name for n, _ in found], (where, [(n.name, round(km, 2)) for n, km in found])


def test_jeju_and_jeonju_find_their_own_dong_first():
    ensure_neighbourhoods()
    jeju = neighbourhood_nearest(latitude=33.4996, longitude=126.5312, limit=3)
    jeonju = neighbourhood_nearest(latitude=35.8242, longitude=127.1480, limit=3)
    assert jeju[0][0].full_name.startswith("제주특별자치도 제주시 ") and jeju[0][1] < 1.5
    assert jeonju[0][0].full_name.startswith("전북특별자치도 전주시 ") and jeonju[0][1] < 1.5


def test_a_point_at_sea_far_from_any_dong_finds_none():
    ensure_neighbourhoods()
    assert neighbourhood_nearest(latitude=36.0, longitude=125.0, limit=3) == []  # the Yellow Sea


def test_search_by_partial_name_and_by_initials():
    ensure_neighbourhoods()
    names = [n.full_name for n in neighbourhood_search(q="역삼")]
    assert names[:2] == ["서울특별시 강남구 역삼1동", "서울특별시 강남구 역삼2동"]
    found = neighbourhood_search(q="ㅇㅅ")
    assert found and all("ㅇㅅ" in n.initials for n in found)
    assert "역삼1동" in [n.name for n in neighbourhood_search(q="강남 ㅇㅅ")]
    assert [n.name for n in neighbourhood_search(q="제주시 일도")] == ["일도1동", "일도2동"]
    assert neighbourhood_search(q="   ") == [] and neighbourhood_search(q="없는동네이름") == []


def test_a_refusal_names_the_nearest_dong_and_its_distance():
    ensure_neighbourhoods()
    unseo = Neighbourhood.objects.get(district="인천광역시 중구", name="운서동")
    user = make_user(username="jeju-newbie", verified=False, place=unseo)
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("accounts:verify"), {"neighbourhood": unseo.pk, "latitude": "33.4996", "longitude": "126.5312"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "운서동에서 약" in page and "가장 가까운 동네는 제주특별자치도 제주시 이도1동(약 0.9km)" in page
    assert User.objects.get(pk=user.pk).location_verified_at is None
