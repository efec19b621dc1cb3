"""The live page when its server goes away (issue 26 #8), in Chromium against a real Daphne
process: the page shows `reconnecting` and comes back `live` after a restart; a bid whose
answer never came (the server froze with the frame in hand) is resent after the reconnect with
the same request id and lands exactly once; buy-now on a national page asks first and is
answered over the socket."""

from __future__ import annotations

import os
import signal

import pytest

from auctions.models import Auction, Bid
from tests import factories as f
from tests.browser.test_live import live_pages, live_site, static_root  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONN = "article[data-auction-id][data-conn='{}']"


def test_restart_reconnects_and_a_bid_without_an_answer_lands_exactly_once(live_site, new_page):  # noqa: F811
    auction = f.make_auction(is_national=True, start_price=10_000, buy_now_price=90_000, title="한정판 피규어")
    alice = f.make_user(nickname="김하나", balance=1_000_000)
    bob = f.make_user(nickname="이두리", balance=1_000_000)
    url = f"{live_site.url}/auctions/{auction.pk}/"
    page_a, page_b = live_pages(new_page, live_site, url, [alice, bob])
    sent_a: list[str] = []
    page_a.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent_a.append(str(payload))))

    # when the server process stops, the page says it is reconnecting; when it is back, live
    live_site.stop()
    page_a.wait_for_selector(CONN.format("reconnecting"), timeout=10_000)
    assert page_a.locator("[data-live-conn]").inner_text() == "연결이 끊겨 다시 연결하는 중…"
    live_site.start().wait()
    page_a.wait_for_selector(CONN.format("live"), timeout=30_000)
    page_b.wait_for_selector(CONN.format("live"), timeout=30_000)

    # when the server freezes (the socket stays open, nothing answers) just as Alice bids
    os.kill(live_site.proc.pid, signal.SIGSTOP)
    try:
        page_a.click("#bid-form button[type=submit]:visible")
        # no answer within the page's reply timeout: it drops the socket and tries again
        page_a.wait_for_selector(CONN.format("reconnecting"), timeout=20_000)
        assert Bid.objects.filter(bidder=alice).count() == 0
    finally:
        os.kill(live_site.proc.pid, signal.SIGCONT)
    # then once it thaws, the page reconnects, resends the same request, and is answered
    page_a.wait_for_selector(CONN.format("live"), timeout=30_000)
    page_a.wait_for_selector(".live-toast--ok", timeout=15_000)
    bids = [frame for frame in sent_a if '"type":"bid"' in frame]
    request_ids = {frame.split('"request_id":"')[1].split('"')[0] for frame in bids}
    assert len(bids) >= 2 and len(request_ids) == 1, bids  # sent, then resent with the same id
    assert Bid.objects.filter(bidder=alice).count() == 1  # exactly once
    page_b.wait_for_function("document.querySelector(\"[data-live='bid_count']\").textContent === '1'")
    assert Auction.objects.get(pk=auction.pk).leader_id == alice.pk

    # and buy-now on the national page asks first, then is answered over the socket
    sent_b: list[str] = []
    page_b.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent_b.append(str(payload))))
    page_b.reload()
    page_b.wait_for_selector(CONN.format("live"))
    questions: list[str] = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page_b.on("dialog", answer)
    page_b.click("#buy-now-form button[type=submit]")
    page_b.wait_for_selector(".live-toast--ok", timeout=15_000)
    assert questions and "90,000원에 바로 구매할까요?" in questions[0]
    assert any('"type":"buy_now"' in frame for frame in sent_b), sent_b
    auction.refresh_from_db()
    assert (auction.status, auction.winner_id, auction.end_reason) == ("sold", bob.pk, "buy_now")
