"""Web Push in real Chromium (issue 22): the account page's toggle registers the real service
worker (/sw.js) and posts the subscription; a push delivered through the DevTools protocol
(ServiceWorker.deliverPushMessage) is shown as a notification with the right text and target.

Headless Chromium has no push service to subscribe with, so ONLY `PushManager.subscribe` is
stubbed in the page (it returns a subscription-shaped object); the service worker, the page's
JS, the endpoint and the notification are real."""

from __future__ import annotations

import json
import time

import pytest

from notifications.models import Notification, PushSubscription
from notifications.push import push_payload, vapid_keys_new
from notifications.services import notification_create
from tests.factories import make_auction, make_user

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-for-tests-1234"

STUB_SUBSCRIBE = """
PushManager.prototype.subscribe = async function (options) {
  const keyLength = options.applicationServerKey.byteLength;
  window.__pushOptions = { userVisibleOnly: options.userVisibleOnly, keyLength };
  const sub = {
    endpoint: "https://push.example.org/stub/" + Math.random().toString(36).slice(2),
    toJSON() {
      return { endpoint: this.endpoint, keys: {
        p256dh: "BBkjQ00tEvkkeWpGtR09bn6-imGa8UndtpFeqRs8o41yfO2KrMmhyijf2iuL_PlQbKLL-tVEVb_Fuw7zhmFSGbc",
        auth: "AAECAwQFBgcICQoLDA0ODw" } };
    },
    unsubscribe: async () => true,
  };
  return sub;
};
"""


def test_turning_push_on_and_receiving_one(site, new_page, settings, shot):
    private, public = vapid_keys_new()
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = private, public
    base = site
    user = make_user(username="push-user", nickname="알림이")
    page = new_page()
    page.context.grant_permissions(["notifications"], origin=base)
    page.add_init_script(STUB_SUBSCRIBE)
    # given a signed-in neighbour on the account page
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "push-user")
    page.fill("#id_password", PASSWORD)
    page.click("form [type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/accounts/profile/")
    # when they turn push on with the real checkbox
    page.check("#push-toggle")
    page.wait_for_selector("#push-status:has-text('알림을 받고 있어요')")
    shot(page, "push-on")
    # then the real service worker is registered for the whole site, with our VAPID key
    scope = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == f"{base}/"
    assert page.evaluate("() => window.__pushOptions") == {"userVisibleOnly": True, "keyLength": 65}
    sub = PushSubscription.objects.get(user=user)
    assert sub.endpoint.startswith("https://push.example.org/stub/")

    # when a push arrives (delivered to the service worker through DevTools)
    auction = make_auction()
    notification_create(user_ids=[user.pk], kind="outbid", message="더 높은 입찰이 들어왔어요.", auction=auction)
    note = Notification.objects.get(user=user)
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 5
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    registration_id = next(r["registrationId"] for r in registrations if r["scopeURL"] == f"{base}/")
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": base, "registrationId": registration_id, "data": json.dumps(push_payload(note), ensure_ascii=False)},
    )
    # then the notification is shown with the text, and opens the auction
    page.wait_for_function(
        "() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(n => n.length > 0)", polling=100
    )
    shown = page.evaluate(
        "() => navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(ns => ns.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url})))"
    )
    assert shown == [
        {
            "title": "동네경매",
            "body": "더 높은 입찰이 들어왔어요.",
            "tag": f"outbid-{auction.pk}",
            "url": f"/auctions/{auction.pk}/",
        }
    ]
