"""Device tokens: issue (with the login page's lock-out), use, list, revoke; what revokes them all;
session cookies with CSRF."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.sessions.models import Session

from accounts.models import DeviceToken, User
from accounts.services import user_suspend
from tests.api.conftest import PASSWORD, ApiClient, app_client, token_for
from tests.factories import make_moderator, make_user
from tests.money import world

pytestmark = pytest.mark.django_db


def test_a_token_is_issued_once_and_only_its_hash_is_stored(user):
    token = token_for(user, "민수의 아이폰")
    assert token.startswith("nbt_") and len(token) > 40
    row = DeviceToken.objects.get(user=user)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.name == "민수의 아이폰" and row.revoked_at is None
    assert token not in str(list(DeviceToken.objects.values()))
    me = ApiClient(token=token).get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == user.username
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_wrong_password_is_401_and_five_lock_the_account_out_with_retry_after(user):
    client = ApiClient()
    body = {"username": user.username, "password": "wrong", "device_name": "폰"}
    for _ in range(5):
        response = client.post_json("/api/v1/auth/token", body)
        assert response.status_code == 401 and response.json()["code"] == "invalid_login"
    right = client.post_json("/api/v1/auth/token", {**body, "password": PASSWORD})
    assert right.status_code == 429, right.content
    problem = right.json()
    assert problem["code"] == "login_locked" and "분 동안 로그인이 잠겨" in problem["detail"]
    assert 0 < int(right["Retry-After"]) <= 900 and problem["retry_after"] == int(right["Retry-After"])
    assert not DeviceToken.objects.filter(user=user).exists()


def test_the_page_login_and_the_api_share_one_lockout(client, user):
    for _ in range(5):
        client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
    response = ApiClient().post_json(
        "/api/v1/auth/token", {"username": user.username, "password": PASSWORD, "device_name": "폰"}
    )
    assert response.status_code == 429


def test_no_token_bad_token_and_revoked_token_are_401_problems(user):
    assert ApiClient().get("/api/v1/me").status_code == 401
    bad = ApiClient(token="nbt_not-a-real-token").get("/api/v1/me")
    assert bad.status_code == 401 and bad["WWW-Authenticate"].startswith("Bearer")
    assert bad.json()["type"] == "urn:neighborbid:problem:login_required"


def test_devices_are_listed_and_revoked_one_by_one(user):
    phone, tablet = token_for(user, "폰"), token_for(user, "태블릿")
    app = ApiClient(token=phone)
    listed = app.get("/api/v1/auth/devices").json()
    assert [(d["name"], d["current"]) for d in listed] == [("태블릿", False), ("폰", True)]
    tablet_id = listed[0]["id"]
    assert app.delete(f"/api/v1/auth/devices/{tablet_id}").status_code == 204
    assert ApiClient(token=tablet).get("/api/v1/me").status_code == 401
    assert app.get("/api/v1/me").status_code == 200
    assert app.delete(f"/api/v1/auth/devices/{tablet_id}").status_code == 204  # again: still gone, no error


def test_another_users_device_is_404_and_stays_signed_in(user):
    victim = make_user()
    victim_token = token_for(victim)
    victim_device = DeviceToken.objects.get(user=victim)
    response = app_client(user).delete(f"/api/v1/auth/devices/{victim_device.pk}")
    assert response.status_code == 404 and response.json()["code"] == "device_not_found"
    victim_device.refresh_from_db()
    assert victim_device.revoked_at is None
    assert ApiClient(token=victim_token).get("/api/v1/me").status_code == 200


def test_a_password_change_revokes_every_device(user):
    token = token_for(user)
    fresh = User.objects.get(pk=user.pk)
    fresh.set_password("a-new-password-5678")
    fresh.save()
    assert ApiClient(token=token).get("/api/v1/me").status_code == 401
    assert DeviceToken.objects.get(user=user).revoked_at is not None


def test_a_suspension_revokes_every_device(user):
    token = token_for(user)
    user_suspend(user_id=user.pk, staff_user=make_moderator(), reason="사기 의심")
    assert ApiClient(token=token).get("/api/v1/me").status_code == 401
    # they may sign in again (as on the site) and take their money out, but not bid
    again = ApiClient(token=token_for(user))
    assert again.get("/api/v1/me").json()["is_suspended"] is True


def test_logout_everywhere_ends_every_token_and_browser_session(user):
    phone, tablet = token_for(user, "폰"), token_for(user, "태블릿")
    browser = ApiClient()
    browser.force_login(user)
    other = make_user()
    bystander = ApiClient()
    bystander.force_login(other)
    response = ApiClient(token=phone).post_json("/api/v1/auth/logout-everywhere")
    assert response.status_code == 200 and response.json() == {"devices_revoked": 2}
    for token in (phone, tablet):
        assert ApiClient(token=token).get("/api/v1/me").status_code == 401
    assert browser.get("/api/v1/me").status_code == 401
    assert bystander.get("/api/v1/me").status_code == 200
    assert Session.objects.count() == 1


def test_a_session_cookie_works_for_reads_and_needs_csrf_for_writes(user):
    browser = ApiClient(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/api/v1/wallet").status_code == 200
    before = world()
    refused = browser.post_json("/api/v1/wallet/top-ups", {"amount": 10_000}, key="k1")
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    assert world() == before
    browser.get("/accounts/profile/")  # the page sets the CSRF cookie, as in the browser
    csrf = browser.cookies["csrftoken"].value
    ok = browser.post_json("/api/v1/wallet/top-ups", {"amount": 10_000}, key="k1", HTTP_X_CSRFTOKEN=csrf)
    assert ok.status_code == 201


def test_a_token_needs_no_csrf(user):
    app = ApiClient(token=token_for(user), enforce_csrf_checks=True)
    assert app.post_json("/api/v1/wallet/top-ups", {"amount": 10_000}, key="k1").status_code == 201


def test_a_deactivated_account_token_is_401(user):
    token = token_for(user)
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert ApiClient(token=token).get("/api/v1/me").status_code == 401
