"""App sign-ins (accounts.services: device tokens): hashed, authenticated, revoked one by one or all."""

from __future__ import annotations

import pytest

from accounts.models import DeviceToken
from accounts.services import (
    device_token_authenticate,
    device_token_create,
    device_token_revoke,
    device_tokens_revoke_all,
)
from neighborbid.errors import DeviceNotFound, InvalidRequest
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_create_authenticate_and_touch():
    user = make_user()
    token, raw = device_token_create(actor=user, name="  민수의   폰 ")
    assert token.name == "민수의 폰" and raw not in token.token_hash
    assert device_token_authenticate(raw_token=raw) == user
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None
    device_token_authenticate(raw_token=raw)  # within a minute: no second write
    token.refresh_from_db()
    assert token.last_used_at == first_use
    for wrong in ("", raw + "x", raw[4:], "nbt_" + "a" * 300):
        assert device_token_authenticate(raw_token=wrong) is None


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "폰\x00"])
def test_a_bad_device_name_is_refused(name):
    user = make_user()
    with pytest.raises(InvalidRequest):
        device_token_create(actor=user, name=name)
    assert not DeviceToken.objects.exists()


def test_revoke_mine_only_and_revoke_all():
    user, other = make_user(), make_user()
    mine, raw_mine = device_token_create(actor=user, name="폰")
    theirs, raw_theirs = device_token_create(actor=other, name="폰")
    with pytest.raises(DeviceNotFound):
        device_token_revoke(actor=user, token_id=theirs.pk)
    assert device_token_authenticate(raw_token=raw_theirs) == other
    device_token_revoke(actor=user, token_id=mine.pk)
    assert device_token_authenticate(raw_token=raw_mine) is None
    device_token_create(actor=other, name="태블릿")
    assert device_tokens_revoke_all(user_id=other.pk) == 2
    assert device_token_authenticate(raw_token=raw_theirs) is None


def test_past_the_cap_the_least_recently_used_device_is_signed_out():
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import DEVICE_TOKENS_MAX

    user = make_user()
    made = [device_token_create(actor=user, name=f"기기 {i}") for i in range(DEVICE_TOKENS_MAX)]
    # the first one was used a minute ago, the second never since long ago: the second goes
    DeviceToken.objects.filter(pk=made[0][0].pk).update(last_used_at=timezone.now())
    DeviceToken.objects.filter(pk=made[1][0].pk).update(created_at=timezone.now() - timedelta(days=30))
    device_token_create(actor=user, name="새 폰")
    assert DeviceToken.objects.filter(user=user, revoked_at__isnull=True).count() == DEVICE_TOKENS_MAX
    assert device_token_authenticate(raw_token=made[1][1]) is None
    assert device_token_authenticate(raw_token=made[0][1]) == user
