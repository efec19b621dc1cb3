"""Sign-up, neighbourhood verification (distance on the server), range, suspension."""

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.selectors import distance_km, neighbourhood_ids_within, user_location_verified
from accounts.services import user_create, user_set_radius, user_suspend, user_unsuspend, user_verify_location
from neighborbid.errors import InvalidRequest, NotEligible, PermissionDenied
from notifications.models import Notification
from tests.factories import make_moderator, make_user, neighbourhood
from tests.money import world
from wallets.models import Wallet

pytestmark = pytest.mark.django_db


def test_sign_up_creates_the_user_and_an_empty_wallet():
    user = user_create(
        username="newbie", password="a-long-pass-phrase", nickname="새내기", neighbourhood=neighbourhood()
    )
    assert user.check_password("a-long-pass-phrase")
    assert Wallet.objects.get(user=user).balance == 0
    assert not user_location_verified(user)


@pytest.mark.parametrize(
    ("username", "password", "nickname"),
    [
        ("", "a-long-pass-phrase", "닉"),
        ("x", "a-long-pass-phrase", ""),
        ("weak", "1234", "약함"),
        ("weak2", "password", "흔함"),
    ],
)
def test_sign_up_refuses_bad_input_and_weak_passwords(username, password, nickname):
    before = User.objects.count()
    with pytest.raises(InvalidRequest):
        user_create(username=username, password=password, nickname=nickname)
    assert User.objects.count() == before


def test_sign_up_refuses_a_taken_username_case_insensitively():
    make_user(username="minsu")
    before = (world(), list(User.objects.values_list("pk", "username", "nickname", "password")))
    with pytest.raises(InvalidRequest):
        user_create(username="MinSu", password="a-long-pass-phrase", nickname="민수")
    assert (world(), list(User.objects.values_list("pk", "username", "nickname", "password"))) == before


def test_distances_between_real_neighbourhoods():
    hapjeong, seogyo = neighbourhood("합정동"), neighbourhood("서교동")
    yeoksam = neighbourhood("역삼1동", "서울특별시 강남구")
    # the 통계청 centres (accounts/data): 합정동 and 서교동 about 1.6 km apart, 역삼1동 about 11 km away
    assert 1.2 < distance_km(hapjeong.latitude, hapjeong.longitude, seogyo.latitude, seogyo.longitude) < 2.0
    assert 10 < distance_km(hapjeong.latitude, hapjeong.longitude, yeoksam.latitude, yeoksam.longitude) < 13
    near = neighbourhood_ids_within(origin=hapjeong, radius_km=3)
    assert hapjeong.pk in near and seogyo.pk in near and yeoksam.pk not in near


def test_verification_accepts_a_position_near_the_centre():
    user = make_user(verified=False)
    place = neighbourhood("서교동")
    km = user_verify_location(
        actor=user, neighbourhood_id=place.pk, latitude=place.latitude + 0.005, longitude=place.longitude
    )
    user.refresh_from_db()
    assert km < 1 and user.neighbourhood_id == place.pk and user_location_verified(user)
    assert (timezone.now() - user.location_verified_at).total_seconds() < 60


@pytest.mark.parametrize(
    ("lat", "lon", "error"),
    [
        (37.5006, 127.0366, NotEligible),  # 역삼동: ~11 km from 서교동
        ("nan", "nan", InvalidRequest),
        ("inf", 127.0, InvalidRequest),
        (91, 127.0, InvalidRequest),
        ("abc", 127.0, InvalidRequest),
        (None, None, InvalidRequest),
    ],
)
def test_verification_refuses_far_or_malformed_positions(lat, lon, error):
    user = make_user(verified=False)
    with pytest.raises(error):
        user_verify_location(actor=user, neighbourhood_id=neighbourhood("서교동").pk, latitude=lat, longitude=lon)
    user.refresh_from_db()
    assert user.location_verified_at is None


def test_range_must_be_one_of_the_choices():
    user = make_user(radius_km=3)
    user_set_radius(actor=user, radius_km=10)
    with pytest.raises(InvalidRequest):
        user_set_radius(actor=user, radius_km=50)
    user.refresh_from_db()
    assert user.search_radius_km == 10


def test_suspension_needs_staff_and_a_reason_and_can_be_lifted():
    user, staff = make_user(), make_moderator()
    with pytest.raises(PermissionDenied):
        user_suspend(user_id=user.pk, staff_user=make_user(), reason="x")
    with pytest.raises(InvalidRequest):
        user_suspend(user_id=user.pk, staff_user=staff, reason=" ")
    user.refresh_from_db()
    assert not user.is_suspended
    user_suspend(user_id=user.pk, staff_user=staff, reason="비매너")
    user.refresh_from_db()
    assert user.is_suspended and user.suspended_reason == "비매너"
    assert Notification.objects.get(user=user, kind="suspended").message.endswith("비매너")
    user_unsuspend(user_id=user.pk, staff_user=staff)
    user.refresh_from_db()
    assert not user.is_suspended


def test_nobody_suspends_themselves_and_only_superusers_suspend_staff():
    moderator, other_moderator = make_moderator(), make_moderator()
    for target, actor in [(moderator, moderator), (other_moderator, moderator)]:
        with pytest.raises(PermissionDenied):
            user_suspend(user_id=target.pk, staff_user=actor, reason="x")
        target.refresh_from_db()
        assert not target.is_suspended
    assert not Notification.objects.filter(kind="suspended").exists()
    boss = make_user(is_staff=True, is_superuser=True)
    user_suspend(user_id=other_moderator.pk, staff_user=boss, reason="권한 남용")
    other_moderator.refresh_from_db()
    assert other_moderator.is_suspended
