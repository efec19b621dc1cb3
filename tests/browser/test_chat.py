"""Two Chromium contexts as the winner and the seller of a sale, on a real Daphne process
with Redis: the seller's unread badge counts the winner's meeting proposal and clears when the
room is opened; the seller accepts; both room pages update live without a reload."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from chat import services
from chat.models import Message, Room
from neighborbid.settings import channel_layers
from tests.browser.test_live import live_site, login, static_root  # noqa: F401  (fixtures)
from tests.chat.conftest import make_sale

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_winner_proposes_a_meeting_the_seller_accepts_and_both_pages_follow_live(live_site, new_page, shot):  # noqa: F811
    sale = make_sale(title="원목 책상")
    room_url = f"{live_site.url}/chat/{sale.room.pk}/"

    winner, seller = new_page(), new_page()
    login(winner, live_site, sale.buyer)
    login(seller, live_site, sale.seller)
    seller.goto(f"{live_site.url}/chat/")
    assert seller.locator(".chat-mobile [data-chat-badge]").is_hidden()

    winner.goto(room_url)
    winner.wait_for_selector("[data-chat-room][data-conn='live']")
    winner.evaluate("window.__notReloaded = true")
    winner.click(".chat-extra summary")
    day = timezone.localdate() + timedelta(days=1)
    winner.fill("#meet-at", f"{day.isoformat()}T19:30")
    winner.select_option("#meet-spot", index=1)  # the seller's own 동
    winner.fill("#meet-place", "역 2번 출구 앞")
    winner.click("[data-propose-meeting]")
    winner.wait_for_selector(".chat-msg--mine .chat-meeting")
    assert "역 2번 출구 앞" in winner.locator(".chat-msg--mine .chat-meeting").inner_text()

    # The seller's list page counts it (its light re-check), in the header and on the room.
    expect(seller.locator(".chat-mobile [data-chat-badge]")).to_have_text("1")
    expect(seller.locator(f"[data-room-unread='{sale.room.pk}']")).to_have_text("1")
    shot(seller, "chat-list-unread")

    # Opening the room clears the badge; the winner sees "읽음" on the proposal, live.
    seller.goto(room_url)
    seller.wait_for_selector("[data-chat-room][data-conn='live']")
    seller.evaluate("window.__notReloaded = true")
    assert seller.locator(".chat-mobile [data-chat-badge]").is_hidden()
    winner.wait_for_selector(".chat-msg--mine [data-read-mark]:not([hidden])")

    # The seller accepts; both pages show the accepted meeting without a reload.
    seller.click("[data-accept-meeting]")
    for page in (seller, winner):
        page.wait_for_selector(".chat-meeting.is-accepted")
        expect(page.locator("[data-meeting-box]")).to_contain_text("역 2번 출구 앞")
    winner.wait_for_selector(".chat-msg--system >> text=약속을 수락했어요.")

    # A text message from the seller reaches the winner, rendered as text.
    seller.fill("#chat-text", "<b>내일 봬요</b>")
    seller.press("#chat-text", "Enter")
    winner.wait_for_selector(".chat-msg--theirs .chat-text >> text=<b>내일 봬요</b>")
    assert winner.locator(".chat-msg--theirs b").count() == 0
    shot(winner, "chat-room-winner")
    shot(seller, "chat-room-seller")

    for page in (winner, seller):
        assert page.evaluate("window.__notReloaded === true")
    proposal = Message.objects.get(kind="meeting")
    assert proposal.accepted_at is not None
    sale.room.refresh_from_db()
    assert sale.room.meeting_id == proposal.pk


def test_a_live_room_keeps_the_badge_right_from_the_socket_without_asking_over_http(live_site, new_page, settings):  # noqa: F811
    # given: a seller with a second sale whose buyer wrote once (the badge says 1), and the
    # first sale's room open on the seller's page
    sale = make_sale(title="원목 책상")
    other = make_sale(seller=sale.seller, title="책장")
    services.message_send(actor=other.buyer, room_id=other.room.pk, text="책장 아직 있나요?")
    seller = new_page()
    login(seller, live_site, sale.seller)
    asked = []
    seller.on("request", lambda request: asked.append(request.url) if "/chat/unread/" in request.url else None)
    seller.clock.install()  # timers run only when the test says so (below)
    seller.goto(f"{live_site.url}/chat/{sale.room.pk}/")
    seller.wait_for_selector("[data-chat-room][data-conn='live']")
    expect(seller.locator(".chat-mobile [data-chat-badge]")).to_have_text("1")

    # when: the winner writes in the open room, three times (from this process, on the
    # server's bus)
    settings.BUS_PREFIX = live_site.env["BUS_PREFIX"]
    settings.CHANNEL_LAYERS = channel_layers(settings.REDIS_URL, settings.BUS_PREFIX)  # the server's layer too
    for n in range(3):
        services.message_send(actor=sale.buyer, room_id=sale.room.pk, text=f"내일 봬요 {n}")
    seller.wait_for_selector(".chat-msg--theirs .chat-text >> text=내일 봬요 2")

    # then: the page marked them read over the socket, its badge still counts only the other
    # room's message, and it never fetched /chat/unread/ to know that
    deadline = time.monotonic() + 10
    while Room.objects.get(pk=sale.room.pk).seller_read_seq < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Room.objects.get(pk=sale.room.pk).seller_read_seq == 3
    # run every timer the page has set for the next 5 s at once (Playwright's clock): the old
    # page asked /chat/unread/ 300 ms after each read mark; no fixed wait decides the outcome
    seller.clock.run_for(5_000)
    expect(seller.locator(".chat-mobile [data-chat-badge]")).to_have_text("1")
    assert asked == []
