"""A chat message reaches the seller's closed room as a Web Push, and its click opens the room
(issue 22), in real Chromium against a real Daphne: the buyer types the message in their own
browser; the push job is written for the seller; its payload is delivered to the seller's real
service worker through the DevTools protocol (ServiceWorker.deliverPushMessage, standing in for
the push service: headless Chromium has none); the worker's own `notificationclick` takes the
seller's tab to the room, whose socket then marks the room open, so the buyer's next message is
shown live and not pushed (the sender skips it).

As in tests/browser/test_push.py, ONLY `PushManager.subscribe` is stubbed in the page."""

from __future__ import annotations

import time

import pytest
from django.utils import timezone

from chat.models import Message
from notifications.models import PushJob, PushSubscription
from notifications.push import chat_push_payload, push_send_once
from realtime.presence import presence_in_room
from tests.browser.push_delivery import push_until_shown
from tests.browser.test_live import login, static_root  # noqa: F401  (fixtures)
from tests.browser.test_push import STUB_SUBSCRIBE, push_live_site  # noqa: F401  (fixture)
from tests.chat.conftest import make_sale

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_job(**lookup) -> PushJob:
    deadline = time.monotonic() + 10  # a deadline only so that a broken run cannot hang
    while time.monotonic() < deadline:
        job = PushJob.objects.filter(**lookup).first()
        if job is not None:
            return job
        time.sleep(0.05)
    pytest.fail(f"no push job {lookup}: {list(PushJob.objects.values())}")


def test_a_chat_push_to_a_closed_room_opens_it_and_an_open_room_is_not_pushed(
    push_live_site,  # noqa: F811
    new_page,
    settings,
    shot,
):
    server = push_live_site
    # this process reads the server's presence keys and signs like its worker
    settings.BUS_PREFIX = server.env["BUS_PREFIX"]
    settings.VAPID_PRIVATE_KEY = server.env["VAPID_PRIVATE_KEY"]
    sale = make_sale(title="원목 책상")
    room_url = f"{server.url}/chat/{sale.room.pk}/"

    # given a seller who turned push on with the account page's toggle, then went elsewhere
    seller = new_page()
    seller.context.grant_permissions(["notifications"], origin=server.url)
    seller.add_init_script(STUB_SUBSCRIBE)
    login(seller, server, sale.seller)
    seller.goto(f"{server.url}/accounts/profile/")
    seller.check("#push-toggle")
    seller.wait_for_selector("#push-status:has-text('알림을 받고 있어요')")
    assert PushSubscription.objects.filter(user=sale.seller).count() == 1
    seller.goto(f"{server.url}/")
    seller.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assert not presence_in_room(room_id=sale.room.pk, user_id=sale.seller.pk)

    # when the buyer writes in the room from their own browser
    buyer = new_page()
    login(buyer, server, sale.buyer)
    buyer.goto(room_url)
    buyer.wait_for_selector("[data-chat-room][data-conn='live']")
    buyer.fill("#chat-text", "책상 오늘 저녁에 가지러 가도 될까요?")
    buyer.press("#chat-text", "Enter")
    buyer.wait_for_selector(".chat-msg--mine .chat-text >> text=책상 오늘 저녁에 가지러 가도 될까요?")

    # then one push job waits for the seller (written after the message commits: the page shows
    # the message as it sends it, so wait for the server), and its payload, delivered to the
    # seller's worker, is shown as the buyer's message
    job = wait_for_job(user_id=sale.seller.pk, status=PushJob.Status.PENDING)
    message = Message.objects.get(pk=job.message_id)
    assert (job.kind, job.room_id, message.text) == ("chat", sale.room.pk, "책상 오늘 저녁에 가지러 가도 될까요?")
    shown = push_until_shown(seller, server.url, chat_push_payload(message))
    PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.SENT)  # delivered above, in the sender's place
    assert shown == [
        {
            "title": "구매자님의 메시지",
            "body": "책상 오늘 저녁에 가지러 가도 될까요?",
            "tag": f"chat-{sale.room.pk}",
            "url": f"/chat/{sale.room.pk}/",
        }
    ]

    # when the seller clicks the notification (headless Chromium has none to click: the worker's
    # own notificationclick event for the notification it showed runs the real handler of /sw.js)
    [worker] = [w for w in seller.context.service_workers if w.url.endswith("/sw.js")]
    worker.evaluate(
        """async () => {
            const [shown] = await self.registration.getNotifications();
            self.dispatchEvent(new NotificationEvent("notificationclick", { notification: shown }));
        }"""
    )
    # then the seller's tab is in the room, live, with the buyer's message
    seller.wait_for_url(room_url, timeout=10_000)
    seller.wait_for_selector("[data-chat-room][data-conn='live']")
    seller.wait_for_selector(".chat-msg--theirs .chat-text >> text=책상 오늘 저녁에 가지러 가도 될까요?")
    shot(seller, "chat-push-clicked")
    # and the room counts as open for the seller (their socket says so)
    deadline = time.monotonic() + 5
    while not presence_in_room(room_id=sale.room.pk, user_id=sale.seller.pk) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert presence_in_room(room_id=sale.room.pk, user_id=sale.seller.pk)

    # when the buyer writes again while the seller looks at the room
    buyer.fill("#chat-text", "7시쯤 도착해요")
    buyer.press("#chat-text", "Enter")
    # then the seller's page shows it live, and the sender does not push it
    seller.wait_for_selector(".chat-msg--theirs .chat-text >> text=7시쯤 도착해요")
    second = wait_for_job(user_id=sale.seller.pk, status=PushJob.Status.PENDING)
    result = push_send_once(now=timezone.now())
    assert (result.claimed, result.sent, result.skipped) == (1, 0, 1)
    second.refresh_from_db()
    assert second.status == PushJob.Status.SKIPPED
