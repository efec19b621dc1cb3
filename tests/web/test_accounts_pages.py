"""Sign-up, log-in, profile, neighbourhood verification and range pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import make_user, neighbourhood
from tests.web.conftest import follow_messages, signed_in
from wallets.models import Wallet

pytestmark = pytest.mark.django_db

HAPJEONG = (37.5497, 126.9139)


def signup_data(**overrides):
    data = {
        "username": "newneighbour",
        "nickname": "새이웃",
        "password1": "tangerine-lamp-42",
        "password2": "tangerine-lamp-42",
    }
    data.update(overrides)
    return data


def test_signup_creates_user_with_wallet_and_logs_in():
    client = Client()
    assert client.get(reverse("accounts:signup")).status_code == 200
    response = client.post(reverse("accounts:signup"), signup_data())
    assert response.status_code == 302 and response.url == reverse("accounts:verify")
    user = User.objects.get(username="newneighbour")
    # no 동 at sign-up: the verification page that follows finds it from where they stand
    assert user.nickname == "새이웃" and user.neighbourhood is None
    assert Wallet.objects.filter(user=user).exists()
    assert user.location_verified_at is None
    page = client.get(reverse("accounts:profile"))
    assert page.status_code == 200 and "새이웃" in page.content.decode()


def test_signup_offers_no_list_of_every_dong_and_ignores_a_posted_one():
    page = Client().get(reverse("accounts:signup")).content.decode()
    assert 'name="neighbourhood"' not in page and "<select" not in page
    Client().post(reverse("accounts:signup"), signup_data(neighbourhood=neighbourhood().pk))
    assert User.objects.get(username="newneighbour").neighbourhood is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"password2": "different-pass-99"},
        {"password1": "1234", "password2": "1234"},  # validators: short, numeric, common
        {"nickname": ""},
        {"username": ""},
    ],
)
def test_signup_bad_input_rerenders_and_creates_nothing(overrides):
    before = User.objects.count()
    response = Client().post(reverse("accounts:signup"), signup_data(**overrides))
    assert response.status_code == 400
    assert response.context["form"].errors
    assert "입력한 내용을 확인해 주세요." in response.content.decode()
    assert User.objects.count() == before


def test_signup_duplicate_username_is_refused():
    make_user(username="taken")
    response = Client().post(reverse("accounts:signup"), signup_data(username="taken"))
    assert response.status_code == 400
    assert User.objects.filter(username="taken").count() == 1


def test_login_and_logout():
    user = make_user(username="loginme")
    client = Client()
    assert client.get(reverse("accounts:login")).status_code == 200
    response = client.post(reverse("accounts:login"), {"username": "loginme", "password": "pw-for-tests-1234"})
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200
    bad = Client().post(reverse("accounts:login"), {"username": "loginme", "password": "wrong"})
    assert bad.status_code == 200 and "아이디 또는 비밀번호가 맞지 않아요." in bad.content.decode()
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("accounts:profile")).status_code == 302
    assert user.pk


def test_pages_that_need_login_redirect_anonymous_users():
    client = Client()
    for name in ["accounts:profile", "accounts:verify", "auctions:my", "auctions:notifications", "wallets:wallet"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and reverse("accounts:login") in response.url, name


def test_verify_within_range_records_verification():
    user = make_user(verified=False)
    client = signed_in(user)
    assert client.get(reverse("accounts:verify")).status_code == 200
    response = client.post(
        reverse("accounts:verify"),
        {"neighbourhood": neighbourhood().pk, "latitude": "37.5500", "longitude": "126.9150"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.location_verified_at is not None
    assert any("인증을 마쳤어요" in m for m in follow_messages(client, response))


def test_verifying_at_the_centre_says_so_instead_of_0_0_km():
    # issue 18 #19: "(동네 중심에서 0.0km)"
    place = neighbourhood()
    client = signed_in(make_user(verified=False))
    at_centre = {"neighbourhood": place.pk, "latitude": str(place.latitude), "longitude": str(place.longitude)}
    said = follow_messages(client, client.post(reverse("accounts:verify"), at_centre))
    assert any("(동네 중심 바로 근처)" in m for m in said), said
    assert not any("0.0km" in m for m in said)
    near = {"neighbourhood": place.pk, "latitude": str(place.latitude + 0.01), "longitude": str(place.longitude)}
    said = follow_messages(client, client.post(reverse("accounts:verify"), near))
    assert any("(동네 중심에서 1.1km)" in m for m in said), said


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        ("37.5006", "127.0366", "떨어져 있어요"),  # 역삼동: far from 합정동
        ("", "", "위치 권한"),  # location denied: nothing sent
        ("nan", "nan", "위치 정보가 올바르지 않아요"),
        ("abc", "126.9", "위치 정보를 읽을 수 없어요"),
        ("999", "126.9", "위치 정보가 올바르지 않아요"),
    ],
)
def test_verify_refuses_far_or_bad_positions_and_changes_nothing(lat, lon, message):
    user = make_user(verified=False)
    response = signed_in(user).post(
        reverse("accounts:verify"), {"neighbourhood": neighbourhood().pk, "latitude": lat, "longitude": lon}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    user.refresh_from_db()
    assert user.location_verified_at is None


def test_verify_is_csrf_protected():
    user = make_user(verified=False)
    response = signed_in(user, csrf=True).post(
        reverse("accounts:verify"), {"neighbourhood": neighbourhood().pk, "latitude": "37.55", "longitude": "126.91"}
    )
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.location_verified_at is None


def test_radius_selector_sets_range_and_refuses_unknown_values():
    user = make_user(radius_km=3)
    client = signed_in(user)
    response = client.post(reverse("accounts:radius"), {"radius_km": "10", "next": "/?tab=local"})
    assert response.status_code == 302 and response.url == "/?tab=local"
    user.refresh_from_db()
    assert user.search_radius_km == 10
    for bad in ["7", "abc", "", "-3"]:
        response = client.post(reverse("accounts:radius"), {"radius_km": bad})
        assert response.status_code == 302
        user.refresh_from_db()
        assert user.search_radius_km == 10


def test_radius_next_cannot_redirect_off_site():
    user = make_user()
    response = signed_in(user).post(reverse("accounts:radius"), {"radius_km": "6", "next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == reverse("auctions:home")


def test_profile_shows_verification_state():
    verified = make_user(nickname="인증이웃")
    page = signed_in(verified).get(reverse("accounts:profile")).content.decode()
    assert "인증 완료" in page and "합정동" in page
    unverified = make_user(verified=False)
    page = signed_in(unverified).get(reverse("accounts:profile")).content.decode()
    assert "인증이 필요해요" in page


def test_suspended_user_sees_banner_with_reason():
    user = make_user(is_suspended=True, suspended_reason="허위 매물 반복 등록")
    page = signed_in(user).get(reverse("auctions:home")).content.decode()
    assert "이용이 정지된 계정이에요." in page and "허위 매물 반복 등록" in page
