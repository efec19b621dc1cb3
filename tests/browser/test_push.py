"""Web Push in real Chromium (issue 22): the account page's toggle registers the real service
worker (/sw.js) and posts the subscription; a push delivered through the DevTools protocol
(ServiceWorker.deliverPushMessage) is shown as a notification with the right text and target,
and its click takes the open tab to that page.

Headless Chromium has no push service to subscribe with, so ONLY `PushManager.subscribe` is
stubbed in the page (it returns a subscription-shaped object); the service worker, the page's
JS, the endpoint and the notification are real."""

from __future__ import annotations

import pytest

from notifications.models import Notification, PushSubscription
from notifications.push import push_payload, vapid_keys_new
from notifications.services import notification_create
from tests.browser.push_delivery import push_until_shown
from tests.browser.test_live import static_root  # noqa: F401  (fixture)
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

    # when a push arrives (delivered through DevTools to the worker, which by now controls this
    # tab: the neighbour still has the site open)
    auction = make_auction()
    notification_create(user_ids=[user.pk], kind="outbid", message="더 높은 입찰이 들어왔어요.", auction=auction)
    note = Notification.objects.get(user=user)
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    # then the notification is shown with the text, and opens the auction
    assert push_until_shown(page, base, push_payload(note)) == [
        {
            "title": "동네경매",
            "body": "더 높은 입찰이 들어왔어요.",
            "tag": f"outbid-{auction.pk}",
            "url": f"/auctions/{auction.pk}/",
        }
    ]

    # when the neighbour clicks it
    [worker] = [w for w in page.context.service_workers if w.url.endswith("/sw.js")]
    # Headless Chromium has no notification to click, so the click is the worker's own event for
    # the notification it showed: the real `notificationclick` handler of /sw.js runs.
    worker.evaluate(
        """async () => {
            const [shown] = await self.registration.getNotifications();
            self.dispatchEvent(new NotificationEvent("notificationclick", { notification: shown }));
        }"""
    )
    # then this tab goes to the auction the push was about, and the notification is gone
    page.wait_for_url(f"{base}/auctions/{auction.pk}/", timeout=10_000)
    assert page.evaluate("() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(n => n.length)") == 0


@pytest.fixture
def push_live_site(static_root, tmp_path):  # noqa: F811  (the fixture imported above)
    """A real Daphne (the bid goes over its socket) with a VAPID key pair in its environment."""
    from django.conf import settings as django_settings

    from tests.realtime.servers import Daphne, free_ports, server_env

    private, public = vapid_keys_new()
    port = free_ports(1, start=8260, stop=8299)[0]
    env = server_env(
        redis_url=django_settings.REDIS_URL,
        bus_prefix=f"nbpush{port}",
        STATIC_ROOT=str(static_root),
        VAPID_PRIVATE_KEY=private,
        VAPID_PUBLIC_KEY=public,
    )
    server = Daphne(port, env, tmp_path / "daphne.log").start()
    try:
        server.wait()
        yield server
    finally:
        server.stop()


def test_a_first_bid_offers_push_gently_and_never_on_page_load(push_live_site, new_page):
    from tests.browser.test_live import live_pages

    auction = make_auction(is_national=True, start_price=10_000)
    bidder = make_user(balance=100_000)
    page = new_page()
    page.context.grant_permissions(["notifications"], origin=push_live_site.url)
    page.add_init_script(STUB_SUBSCRIBE)
    # given a bidder on the live page: nothing is offered on load
    (page,) = live_pages(lambda: page, push_live_site, f"{push_live_site.url}/auctions/{auction.pk}/", [bidder])
    assert page.locator(".push-offer").count() == 0
    # when they place their first bid with the real field and button
    page.fill("#bid-amount", "10,000")
    page.click("#bid-form [data-bid-mode='bid'] button[type=submit]")
    page.wait_for_selector(".live-toast--ok")
    # then a small offer appears; accepting it subscribes this browser
    page.wait_for_selector(".push-offer")
    page.click(".push-offer [data-push-yes]")
    page.wait_for_selector(".push-offer >> text=알림을 켰어요")
    assert PushSubscription.objects.filter(user=bidder).count() == 1
    # and it is offered only once per browser (remembered in this browser's storage)
    assert page.evaluate("() => localStorage.getItem('nb.pushOffered')") == "1"
    page.reload()
    page.wait_for_selector("article[data-auction-id][data-conn='live']")
    assert page.locator(".push-offer").count() == 0


def test_the_push_settings_are_saved_as_a_person_sets_them(site, new_page):
    from notifications.models import PushPreference
    from tests.browser.test_trust_story import login

    # given a signed-in neighbour on their account page, every kind on by default
    user = make_user(username="pushkind")
    page = new_page()
    login(page, site, "pushkind")
    page.goto(f"{site}/accounts/profile/")
    boxes = page.locator(".push-settings input[name=kinds]")
    assert boxes.count() >= 2 and all(boxes.nth(n).is_checked() for n in range(boxes.count()))
    # when they untick the second kind, set quiet hours 22:30–07:00 and press 저장
    off = boxes.nth(1).get_attribute("value")
    boxes.nth(1).uncheck()
    page.fill(".push-settings input[name=quiet_start]", "22:30")
    page.fill(".push-settings input[name=quiet_end]", "07:00")
    page.get_by_role("button", name="알림 설정 저장").click()
    page.wait_for_load_state()
    # then the database holds exactly that, and the page shows it again
    pref = PushPreference.objects.get(user=user)
    assert pref.disabled_kinds == [off]
    assert (pref.quiet_start.isoformat(), pref.quiet_end.isoformat()) == ("22:30:00", "07:00:00")
    page.goto(f"{site}/accounts/profile/")
    assert not page.locator(f".push-settings input[name=kinds][value={off}]").is_checked()
    assert page.input_value(".push-settings input[name=quiet_start]") == "22:30"
    # and chat messages can be turned off the same way, by their label (issue 22)
    page.get_by_label("채팅 메시지").uncheck()
    page.get_by_role("button", name="알림 설정 저장").click()
    page.wait_for_load_state()
    assert sorted(PushPreference.objects.get(user=user).disabled_kinds) == sorted([off, "chat"])
