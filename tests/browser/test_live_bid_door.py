"""The live page's bid door (issue 25), in Chromium against a real Daphne process: a bid typed
into the page, and a buy-now pressed, go over ws/auctions/<id>/bid/, not the watch socket, and
land; when the door
takes the bid and never answers, the page sends it again over the watch socket with the same
request id, and it lands exactly once."""

from __future__ import annotations

import json

import pytest

from auctions.models import Auction, Bid
from tests import factories as f
from tests.browser.test_live import live_pages, live_site, static_root  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def record_frames(page) -> list[tuple[str, dict]]:
    """(socket url, frame) for every frame the page sends, over any socket: the page is
    reloaded so that its watch socket is opened again under watch."""
    sent: list[tuple[str, dict]] = []
    opened: list[str] = []

    def on_socket(ws):
        opened.append(ws.url)
        ws.on("framesent", lambda payload: sent.append((ws.url, json.loads(payload))))

    page.on("websocket", on_socket)
    page.reload()
    page.wait_for_selector("article[data-auction-id][data-conn='live']")
    assert [u.endswith("/") and not u.endswith("/bid/") for u in opened] == [True], opened  # the watch socket
    return sent


def test_a_bid_typed_on_the_live_page_goes_over_the_bid_door_and_lands(live_site, new_page):  # noqa: F811
    auction = f.make_auction(is_national=True, start_price=10_000, buy_now_price=50_000, title="한정판 운동화")
    alice = f.make_user(nickname="김하나", balance=1_000_000)
    bob = f.make_user(nickname="이두리", balance=1_000_000)
    url = f"{live_site.url}/auctions/{auction.pk}/"
    page_a, page_b = live_pages(new_page, live_site, url, [alice, bob])
    sent = record_frames(page_a)

    # when Alice types an amount and presses the button (her first touch opens the door)
    page_a.fill("#bid-amount", "12,000")
    page_a.click("#bid-form button[type=submit]:visible")

    # then the page says so, and the database holds her bid
    page_a.wait_for_selector(".live-toast--ok")
    assert "12,000원 입찰 완료" in page_a.locator(".live-toast--ok").first.inner_text()
    bid = Bid.objects.get(auction=auction)
    assert (bid.bidder_id, bid.amount) == (alice.pk, 12_000)
    # it went over the bid door, and only there
    bids = [(socket, frame) for socket, frame in sent if frame.get("type") == "bid"]
    assert [socket.endswith(f"/ws/auctions/{auction.pk}/bid/") for socket, _ in bids] == [True], bids
    assert bids[0][1]["amount"] == 12_000
    # her page shows the price the door's ack carried; Bob's, the state from his watch socket
    page_a.wait_for_function("document.querySelector(\"[data-live='current_price']\").textContent === '12,000원'")
    page_b.wait_for_function("document.querySelector(\"[data-live='current_price']\").textContent === '12,000원'")
    assert page_a.locator("[data-live='leader']").inner_text() == "김*나 (나)"

    # when Bob presses 바로 구매 and says yes (his first touch opens his door; wait for it, as a
    # person reading the question would)
    page_b.on("dialog", lambda dialog: dialog.accept())
    sent_b = record_frames(page_b)
    page_b.focus("#buy-now-form button[type=submit]")
    page_b.wait_for_selector("article[data-auction-id][data-door='open']")
    page_b.click("#buy-now-form button[type=submit]")
    page_b.wait_for_selector(".live-toast--ok", timeout=15_000)
    # then it went over his bid door, and the auction is his
    buys = [(socket, frame) for socket, frame in sent_b if frame.get("type") == "buy_now"]
    assert [socket.endswith(f"/ws/auctions/{auction.pk}/bid/") for socket, _ in buys] == [True], buys
    auction.refresh_from_db()
    assert (auction.status, auction.winner_id, auction.end_reason) == ("sold", bob.pk, "buy_now")


def test_a_bid_the_door_never_answers_goes_again_over_the_watch_socket_once(live_site, new_page):  # noqa: F811
    auction = f.make_auction(is_national=True, start_price=10_000, title="한정판 시계")
    alice = f.make_user(nickname="김하나", balance=1_000_000)
    [page] = live_pages(new_page, live_site, f"{live_site.url}/auctions/{auction.pk}/", [alice])
    sent = record_frames(page)
    swallowed: list[dict] = []

    def dead_door(route) -> None:
        # opens and says so (a snapshot), then takes every frame and answers nothing
        route.on_message(lambda message: swallowed.append(json.loads(message)))
        route.send(json.dumps({"type": "snapshot", "seq": -1}))

    page.route_web_socket("**/bid/", dead_door)

    # when Alice opens the form, waits for the door, and bids
    page.focus("#bid-amount")
    page.wait_for_selector("article[data-auction-id][data-door='open']")
    page.click("#bid-form button[type=submit]:visible")

    # then the door took it and never answered; after the reply timeout the page sent the same
    # request over the watch socket, and it landed exactly once
    page.wait_for_selector(".live-toast--ok", timeout=20_000)
    assert [frame["type"] for frame in swallowed] == ["bid"], swallowed
    on_watch = [f for s, f in sent if f.get("type") == "bid" and not s.endswith("/bid/")]
    assert [frame["request_id"] for frame in on_watch] == [swallowed[0]["request_id"]], on_watch
    assert Bid.objects.filter(auction=auction, bidder=alice).count() == 1
    assert Auction.objects.get(pk=auction.pk).leader_id == alice.pk
