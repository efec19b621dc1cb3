"""Two Chromium pages as two users on one national auction, served by a real Daphne process
(pytest-django's live_server has no WebSocket): a bid on one page updates the other without a
reload, and the outbid user sees the outbid notice."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from auctions import services
from neighborbid.settings import channel_layers
from tests import factories as f
from tests.realtime.servers import BASE_DIR, Daphne, free_ports, server_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def static_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("static")
    env = server_env(redis_url=settings.REDIS_URL, bus_prefix="nbcollect", STATIC_ROOT=str(root))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True
    )
    return root


@pytest.fixture
def live_site(static_root, tmp_path):
    port = free_ports(1, start=8260, stop=8299)[0]
    env = server_env(redis_url=settings.REDIS_URL, bus_prefix=f"nbbrowser{port}", STATIC_ROOT=str(static_root))
    server = Daphne(port, env, tmp_path / "daphne.log").start()
    try:
        server.wait()
        yield server
    finally:
        server.stop()


def login(page, server: Daphne, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": server.url,
            }
        ]
    )


def live_pages(new_page, server: Daphne, url: str, users: list) -> list:
    """One signed-in page per user on `url`, each live on its socket, marked so that a reload
    would show (`window.__notReloaded`)."""
    pages = []
    for user in users:
        page = new_page()
        login(page, server, user)
        page.goto(url)
        page.wait_for_selector("article[data-auction-id][data-conn='live']")
        page.evaluate("window.__notReloaded = true")
        pages.append(page)
    return pages


def test_a_bid_on_one_page_updates_the_other_live_and_the_outbid_user_is_told(live_site, new_page, shot):
    auction = f.make_auction(is_national=True, start_price=10_000, buy_now_price=100_000, title="한정판 스니커즈")
    alice = f.make_user(nickname="김민수", balance=1_000_000)
    bob = f.make_user(nickname="이지은", balance=1_000_000)
    url = f"{live_site.url}/auctions/{auction.pk}/"

    page_a, page_b = live_pages(new_page, live_site, url, [alice, bob])
    assert page_b.locator("[data-live-conn]").inner_text() == "실시간 연결됨"

    # Alice bids the suggested minimum over the socket.
    assert page_a.input_value("#bid-amount") == "10,000"
    page_a.click("#bid-form button[type=submit]:visible")
    page_a.wait_for_selector(".live-toast--ok")
    assert "10,000원 입찰 완료" in page_a.locator(".live-toast--ok").first.inner_text()

    # Bob's page follows without a reload: count, leader, price, min next bid, history.
    page_b.wait_for_function("document.querySelector(\"[data-live='bid_count']\").textContent === '1'")
    assert page_b.locator("[data-live='leader']").inner_text() == "김*수"
    assert page_b.locator("[data-live='min_next_bid']").inner_text() == "11,000원"
    assert "10,000원" in page_b.locator("[data-live='recent_bids']").inner_text()
    assert page_b.input_value("#bid-amount") == "11,000"
    assert page_a.locator("[data-live='leader']").inner_text() == "김*수 (나)"

    # Bob outbids her from his page; Alice's page updates and shows the outbid notice.
    page_b.click("#bid-form button[type=submit]:visible")
    page_b.wait_for_selector(".live-toast--ok")
    page_a.wait_for_function("document.querySelector(\"[data-live='current_price']\").textContent === '11,000원'")
    page_a.wait_for_selector(".live-toast--warn")
    assert re.search(r"더 높은 입찰\(11,000원\)", page_a.locator(".live-toast--warn").first.inner_text())
    assert page_a.locator("[data-live='leader']").inner_text() == "이*은"
    assert page_a.input_value("#bid-amount") == "12,000"
    shot(page_a, "live-outbid")

    # A too-low bid typed by hand: an error toast, and the box is set to the real minimum.
    page_a.fill("#bid-amount", "11000")
    page_a.click("#bid-form button[type=submit]:visible")
    page_a.wait_for_selector(".live-toast--error")
    assert "최소 입찰가는 12,000원" in page_a.locator(".live-toast--error").first.inner_text()
    assert page_a.input_value("#bid-amount") == "12,000"

    for page in (page_a, page_b):
        assert page.evaluate("window.__notReloaded === true")
    auction.refresh_from_db()
    assert auction.current_price == 11_000 and auction.leader_id == bob.pk and auction.bid_count == 2


def test_a_live_update_never_rewrites_the_amount_under_the_users_cursor(live_site, new_page):
    # given two people on one national auction, and Bob with his cursor in the amount field
    auction = f.make_auction(is_national=True, start_price=10_000, title="한정판 스니커즈")
    alice, bob = f.make_user(balance=1_000_000), f.make_user(balance=1_000_000)
    url = f"{live_site.url}/auctions/{auction.pk}/"
    page_a, page_b = live_pages(new_page, live_site, url, [alice, bob])
    page_b.click("#bid-amount")
    # when Alice bids and the new state reaches Bob's page
    page_a.click("#bid-form button[type=submit]:visible")
    page_b.wait_for_selector("[data-live=min_next_bid] >> text=11,000원")
    # then the price moved on his page, but not the text under his cursor (keys pressed as it
    # changed would have landed in the new text: "11,00012,000")
    assert page_b.locator("[data-live='min_next_bid']").inner_text() == "11,000원"
    assert page_b.input_value("#bid-amount") == "10,000"
    # and what he types is what he bids
    page_b.fill("#bid-amount", "12,000")
    page_b.click("#bid-form button[type=submit]:visible")
    page_b.wait_for_selector(".live-toast--ok")
    assert list(auction.bids.order_by("id").values_list("bidder_id", "amount")) == [
        (alice.pk, 10_000),
        (bob.pk, 12_000),
    ]
    # while a field nobody is typing in still follows the price (Alice's button has the focus)
    expect(page_a.locator("#bid-amount")).to_have_value("13,000")


def test_a_late_bid_extends_the_end_on_the_watchers_page_and_the_winner_is_told_they_won(
    live_site, new_page, shot, settings
):
    # given: a national auction 4 minutes before its end, inside its soft-close window (a bid
    # in the last 5 minutes moves the end to 10 minutes after the bid: about 6 minutes later)
    auction = f.make_auction(
        is_national=True, start_price=10_000, title="빈티지 카메라", soft_close_window_s=300, soft_close_extension_s=600
    )
    f.set_end(auction, timezone.now() + timedelta(minutes=4))
    watcher = f.make_user(nickname="박서연", balance=1_000_000)
    winner = f.make_user(nickname="정하늘", balance=1_000_000)
    url = f"{live_site.url}/auctions/{auction.pk}/"
    page_w, page_win = live_pages(new_page, live_site, url, [watcher, winner])
    ends_before = auction.ends_at

    # when: the winner bids from their page inside the window
    page_win.click("#bid-form button[type=submit]:visible")
    page_win.wait_for_selector(".live-toast--ok")

    # then: the watcher's page says the end moved by as many minutes as it really moved (the
    # page rounds the difference of the two ends it was shown), one toast at a time
    auction.refresh_from_db()
    assert auction.ends_at > ends_before and auction.leader_id == winner.pk
    minutes = round((auction.ends_at - ends_before).total_seconds() / 60)
    page_w.wait_for_selector(f".live-toast--info >> text=마감이 {minutes}분 연장됐어요.")
    assert page_w.locator(".live-toast").count() == 1
    shot(page_w, "live-extended")

    # when: the end passes and the settlement runs (the worker's service, here in this process,
    # publishing on the server's bus)
    settings.BUS_PREFIX = live_site.env["BUS_PREFIX"]
    settings.CHANNEL_LAYERS = channel_layers(settings.REDIS_URL, settings.BUS_PREFIX)  # the server's layer too
    f.set_end(auction, timezone.now() - timedelta(seconds=1))
    assert services.auction_settle(auction_id=auction.pk) is not None

    # then: the winner's page says "낙찰됐어요!", the watcher's names the price and the winner
    page_win.wait_for_selector(".live-toast--ok >> text=낙찰됐어요!")
    assert "10,000원에 내가 낙찰받았어요" in page_win.locator(".live-toast").inner_text()
    page_w.wait_for_selector(".live-toast--info >> text=경매가 끝났어요.")
    assert "10,000원에 낙찰됐어요 (정*늘)" in page_w.locator(".live-toast").inner_text()
    for page in (page_w, page_win):
        assert page.locator("#bid-form").is_hidden()
        assert page.evaluate("window.__notReloaded === true")
    shot(page_win, "live-won")
