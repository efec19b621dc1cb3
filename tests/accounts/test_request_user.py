"""accounts.selectors.request_user (through accounts.middleware.AuthenticationMiddleware): the
user of a page request is Django's answer, with the session row and the user row read in one
statement once this process has verified the session; every other case is Django's own path."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from accounts import selectors
from accounts.middleware import AuthenticationMiddleware
from accounts.models import User
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_hints():
    selectors._SESSION_USERS.clear()
    yield
    selectors._SESSION_USERS.clear()


def signed_in(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def page_request(session_key: str):
    """A request through the session and authentication middlewares, as the site's chain runs them."""
    request = RequestFactory().get("/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = session_key
    SessionMiddleware(lambda r: None).process_request(request)
    AuthenticationMiddleware(lambda r: None).process_request(request)
    return request


def reads(queries) -> list[str]:
    """The statements that read a session or a user."""
    tables = (Session._meta.db_table, User._meta.db_table)
    return [q["sql"] for q in queries if any(t in q["sql"] for t in tables)]


def test_a_known_session_and_its_user_are_one_statement_and_the_session_is_not_read_again():
    # given a signed-in user whose session this process has verified once (Django's two reads)
    user = make_user(nickname="한번에")
    key = signed_in(user)
    with CaptureQueriesContext(connection) as first:
        assert page_request(key).user.pk == user.pk
    assert len(reads(first.captured_queries)) == 2
    # when the next page comes with the same session
    request = page_request(key)
    with CaptureQueriesContext(connection) as then:
        found = request.user.pk
        held = request.session["_auth_user_id"]  # the session is loaded: no read of its own
    # then one statement read both, and the user is the same whole row the ORM loads
    assert found == user.pk and held == str(user.pk)
    assert len(reads(then.captured_queries)) == 1
    assert request.session.accessed  # Vary: Cookie, as Django's load sets it
    fresh = User.objects.get(pk=user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(request.user, field.attname) == getattr(fresh, field.attname), field.attname


def test_the_installed_chain_uses_it():
    # given the site's middleware setting and a page that needs the signed-in user
    assert "accounts.middleware.AuthenticationMiddleware" in settings.MIDDLEWARE
    user = make_user()
    client = Client()
    client.force_login(user)
    client.get("/notifications/")
    # when the page is asked for again
    with CaptureQueriesContext(connection) as then:
        response = client.get("/notifications/")
    # then it is served to that user with one read of the session and the user
    assert response.status_code == 200 and response.wsgi_request.user.pk == user.pk
    assert len(reads(then.captured_queries)) == 1


def test_a_password_changed_since_ends_the_session_as_django_does():
    # given a verified session; then the password changes (another device)
    user = make_user()
    key = signed_in(user)
    assert page_request(key).user.pk == user.pk
    user.set_password("새비밀번호-123")
    user.save(update_fields=["password"])
    # when the next page comes with the old session
    request = page_request(key)
    # then the visitor is signed out and the session is flushed (Django's own path)
    assert isinstance(request.user, AnonymousUser)
    assert not Session.objects.filter(session_key=key).exists()


@pytest.mark.parametrize("change", ["deactivated", "logged_out", "expired"])
def test_a_session_that_no_longer_holds_is_anonymous(change):
    user = make_user()
    key = signed_in(user)
    assert page_request(key).user.pk == user.pk
    if change == "deactivated":
        User.objects.filter(pk=user.pk).update(is_active=False)
    elif change == "logged_out":
        Session.objects.filter(session_key=key).delete()
    else:
        Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    assert isinstance(page_request(key).user, AnonymousUser)


def test_a_wrong_hint_costs_only_djangos_path():
    # given a hint that names someone else for this session (it can only be stale, never trusted)
    user, other = make_user(), make_user()
    key = signed_in(user)
    selectors._SESSION_USERS[key] = other.pk
    # when the page comes
    request = page_request(key)
    # then the session's own user is signed in, and the hint is corrected
    assert request.user.pk == user.pk
    assert selectors._SESSION_USERS[key] == user.pk


def test_a_session_signed_under_a_rotated_secret_is_cycled_as_django_does():
    # given a session verified under the old SECRET_KEY
    user = make_user()
    key = signed_in(user)
    assert page_request(key).user.pk == user.pk
    # when the key is rotated (the old one kept as a fallback) and the next page comes
    with override_settings(SECRET_KEY="rotated-secret-key-for-this-test", SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        request = page_request(key)
        assert request.user.pk == user.pk
        # then the user stays signed in on a new session key (Django's cycle_key)
        assert request.session.session_key != key
