"""accounts.selectors.session_user: the user of a socket's session *now*, as a whole row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from accounts.selectors import session_user
from accounts.services import user_temperature_set
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_sessions_user_is_the_whole_row_not_defaults_for_what_was_not_selected():
    # given a user whose row differs from a new User's defaults (매너온도 36.5 for everyone new)
    user = make_user(nickname="차가운이웃")
    user_temperature_set(user_id=user.pk, temperature=Decimal("20.0"))
    client = Client()
    client.force_login(user)
    # when a socket's session is checked
    found = session_user(session_key=client.session.session_key, user_id=user.pk)
    # then every field is the database's, as the ORM would load it
    fresh = User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(fresh, field.attname), field.attname
    assert found.manner_temperature == Decimal("20.0") and not found._state.adding
