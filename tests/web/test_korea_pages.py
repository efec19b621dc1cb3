"""Issue 20's pages: the nearest-동 proposals, the 동 search of the verification page, and the
home's "내 근처" filter."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Neighbourhood, User
from tests.factories import make_auction, make_user, neighbourhood

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_nearby_proposes_the_three_nearest_dong_of_a_position():
    client = signed_in(make_user(verified=False))
    response = client.post(reverse("accounts:verify_nearby"), {"latitude": "33.4996", "longitude": "126.5312"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["full_name"] for r in results][0] == "제주특별자치도 제주시 이도1동"
    assert len(results) == 3 and results[0]["km"] <= results[1]["km"] <= results[2]["km"]
    assert results[0]["in_range"] is True


@pytest.mark.parametrize(
    ("lat", "lon", "status"), [("", "126.5", 400), ("nan", "126.5", 400), ("91", "126.5", 400), ("36.0", "125.0", 200)]
)
def test_nearby_refuses_bad_positions_and_says_when_nothing_is_near(lat, lon, status):
    client = signed_in(make_user(verified=False))
    response = client.post(reverse("accounts:verify_nearby"), {"latitude": lat, "longitude": lon})
    assert response.status_code == status
    if status == 200:  # the Yellow Sea
        assert response.json()["results"] == [] and "찾지 못했어요" in response.json()["message"]
    else:
        assert response.json()["error"]


def test_nearby_needs_a_login_and_a_post():
    position = {"latitude": "33.5", "longitude": "126.5"}
    assert Client().post(reverse("accounts:verify_nearby"), position).status_code == 302
    assert signed_in(make_user()).get(reverse("accounts:verify_nearby")).status_code == 405


def test_nearby_is_rate_limited_per_user_with_a_reason_in_korean(settings):
    # the web tests lift the limits (tests/web/conftest.py); this one puts the product's back
    from django.conf import settings as live

    views = {"accounts:verify_nearby": "nearby"}
    assert live.NEIGHBORBID_SECURITY["RATE_LIMITED_VIEWS"] == {}  # lifted here, and in the product:
    from neighborbid import settings as product

    assert product.NEIGHBORBID_SECURITY["RATE_LIMITED_VIEWS"]["accounts:verify_nearby"] == "nearby"
    settings.NEIGHBORBID_SECURITY = {**live.NEIGHBORBID_SECURITY, "RATE_LIMITED_VIEWS": views}
    # a script walking the map is stopped after the burst; a neighbour next door is not
    walker, neighbour = signed_in(make_user(verified=False)), signed_in(make_user(verified=False))
    position = {"latitude": "33.4996", "longitude": "126.5312"}
    answers = [
        walker.post(reverse("accounts:verify_nearby"), position, HTTP_ACCEPT="application/json").status_code
        for _ in range(25)
    ]
    assert answers[:20] == [200] * 20 and answers[20:] == [429] * 5
    refused = walker.post(reverse("accounts:verify_nearby"), position, HTTP_ACCEPT="application/json")
    assert refused.status_code == 429 and refused["Retry-After"]
    assert refused.json()["error"]["message"].endswith("요.")
    assert neighbour.post(reverse("accounts:verify_nearby"), position).status_code == 200


def test_the_verify_page_searches_by_partial_name_and_initials():
    client = signed_in(make_user(verified=False))
    page = client.get(reverse("accounts:verify"), {"q": "역삼"}).content.decode()
    assert "서울특별시 강남구 역삼1동 인증하기" in page and "서울특별시 강남구 역삼2동 인증하기" in page
    page = client.get(reverse("accounts:verify"), {"q": "강남 ㅇㅅ"}).content.decode()
    assert "서울특별시 강남구 역삼1동 인증하기" in page
    page = client.get(reverse("accounts:verify"), {"q": "없는동네"}).content.decode()
    assert "맞는 동네가 없어요" in page


def test_a_dong_no_longer_offered_cannot_be_verified():
    retired = Neighbourhood.objects.create(
        district="서울특별시 관악구", name="옛동", latitude=37.48, longitude=126.94, is_offered=False
    )
    user = make_user(verified=False)
    response = signed_in(user).post(
        reverse("accounts:verify"), {"neighbourhood": retired.pk, "latitude": "37.48", "longitude": "126.94"}
    )
    assert response.status_code == 400
    assert User.objects.get(pk=user.pk).location_verified_at is None


def test_near_filter_narrows_the_local_list_and_shows_distances():
    seller_near = make_user(place=neighbourhood("서교동"))  # ~1.6 km from 합정동
    seller_far = make_user(place=neighbourhood("역삼1동", "서울특별시 강남구"))  # ~11 km
    make_auction(seller=seller_near, title="가까운 의자")
    make_auction(seller=seller_far, title="먼 책상")
    client = signed_in(make_user(place=neighbourhood("합정동"), radius_km=10))
    titles = lambda response: [a.title for a in response.context["page"].object_list]  # noqa: E731
    assert titles(client.get("/", {"km": "1"})) == []
    assert titles(client.get("/", {"km": "3"})) == ["가까운 의자"]
    assert set(titles(client.get("/", {"km": "10"}))) == {"가까운 의자"}  # 11 km is beyond 10
    page = client.get("/", {"km": "3"}).content.decode()
    assert "1.6km" in page and 'aria-current="true">3km' in page
    assert titles(client.get("/", {"km": "7"})) == ["가까운 의자"]  # not a choice: my range (10 km)
