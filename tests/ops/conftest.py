from __future__ import annotations

import uuid

import pytest

from accounts.models import User
from accounts.roles import MODERATORS, ensure_moderators_group
from tests.factories import make_user


@pytest.fixture
def moderator(db) -> User:
    """A staff user who is not a superuser, in the moderators group."""
    group = ensure_moderators_group()
    user = make_user(username="moderator-" + uuid.uuid4().hex[:8], is_staff=True)
    user.groups.add(group)
    assert group.name == MODERATORS and not user.is_superuser
    return user


@pytest.fixture
def mod_client(client, moderator):
    client.force_login(moderator)
    return client
