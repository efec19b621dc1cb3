"""Web Push doors (issue 22): /sw.js at the root, subscribe/unsubscribe (session + CSRF) and the
account page's push settings."""

from __future__ import annotations

import base64
import json
import os

import pytest
from django.test import Client

from notifications.models import PushPreference, PushSubscription
from tests.factories import make_user
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def subscription(endpoint: str = "https://push.example.org/v1/abc") -> dict:
    return {"endpoint": endpoint, "keys": {"p256dh": b64(b"\x04" + os.urandom(64)), "auth": b64(os.urandom(16))}}


def post_json(client: Client, url: str, body: object):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_service_worker_is_served_from_the_root_with_a_site_wide_scope():
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert b"notificationclick" in response.content


def test_subscribe_stores_this_browser_and_unsubscribe_forgets_it():
    # given a signed-in neighbour
    user = make_user()
    client = signed_in(user)
    body = subscription()
    # when the page posts its subscription
    response = post_json(client, "/notifications/push/subscribe", body)
    # then it is stored for them
    assert response.status_code == 201
    sub = PushSubscription.objects.get()
    assert (sub.user_id, sub.endpoint, sub.p256dh, sub.auth) == (
        user.pk,
        body["endpoint"],
        body["keys"]["p256dh"],
        body["keys"]["auth"],
    )
    # and unsubscribing forgets it
    response = post_json(client, "/notifications/push/unsubscribe", {"endpoint": body["endpoint"]})
    assert response.status_code == 200
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": "http://10.0.0.1/internal", "keys": subscription()["keys"]},  # not https
        {"endpoint": "https://push.example.org/x", "keys": {"p256dh": "short", "auth": b64(os.urandom(16))}},
        {"endpoint": "https://push.example.org/x", "keys": {"p256dh": subscription()["keys"]["p256dh"], "auth": "!!"}},
        {"endpoint": "https://push.example.org/x"},
        ["not", "an", "object"],
        "not json at all",
    ],
)
def test_bad_subscriptions_are_a_400_and_store_nothing(body):
    client = signed_in(make_user())
    if isinstance(body, str):
        response = client.post("/notifications/push/subscribe", data=body, content_type="application/json")
    else:
        response = post_json(client, "/notifications/push/subscribe", body)
    assert response.status_code == 400
    assert "message" in response.json()
    assert not PushSubscription.objects.exists()


def test_subscribe_needs_a_session_and_csrf():
    response = post_json(Client(), "/notifications/push/subscribe", subscription())
    assert response.status_code == 401
    user = make_user()
    response = post_json(signed_in(user, csrf=True), "/notifications/push/subscribe", subscription())
    assert response.status_code == 403
    assert not PushSubscription.objects.exists()


def test_unsubscribe_only_removes_ones_own_subscription():
    owner, other = make_user(), make_user()
    body = subscription()
    post_json(signed_in(owner), "/notifications/push/subscribe", body)
    post_json(signed_in(other), "/notifications/push/unsubscribe", {"endpoint": body["endpoint"]})
    assert PushSubscription.objects.filter(user=owner).exists()


def test_account_page_shows_the_toggle_and_saves_kinds_and_quiet_hours():
    user = make_user()
    client = signed_in(user)
    page = client.get("/accounts/profile/")
    assert b"data-push-toggle" in page.content
    response = client.post(
        "/notifications/push/preferences",
        {"kinds": ["outbid", "won"], "quiet_start": "22:30", "quiet_end": "07:00"},
    )
    assert response.status_code == 302
    pref = PushPreference.objects.get(user=user)
    assert "outbid" not in pref.disabled_kinds and "ending_soon" in pref.disabled_kinds
    assert (pref.quiet_start.isoformat(), pref.quiet_end.isoformat()) == ("22:30:00", "07:00:00")


def test_a_bad_quiet_hour_changes_nothing():
    user = make_user()
    client = signed_in(user)
    client.post("/notifications/push/preferences", {"kinds": ["outbid"], "quiet_start": "25:99"})
    assert not PushPreference.objects.exists()
