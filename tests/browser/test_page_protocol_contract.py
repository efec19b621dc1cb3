"""The pages held against the protocol (issue 26 item 1): the frames static/js/live.js and
static/js/chat.js really send, captured in Chromium (page.on("websocket") → framesent), carry
every named field of the form the person filled in, or the field is listed here as HTTP-only on
purpose. A field added to a form and forgotten by the page's socket path turns this red."""

from __future__ import annotations

import json

import pytest

from auctions.models import Bid
from chat.models import Message
from tests import factories as f
from tests.browser.test_live import live_site, login, static_root  # noqa: F401  (fixtures)
from tests.chat.conftest import make_sale

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Form fields that never go into a frame, and why.
HTTP_ONLY = {
    "csrfmiddlewaretoken": "the socket is checked once, when it opens (origin + session)",
    "confirmed": "the page asks (window.confirm) before it sends; the confirm page is for HTTP without JS",
}
# Form fields the protocol names differently (docs/protocol.md).
IN_FRAME_AS = {"client_id": "request_id"}
AMOUNTS = {"amount", "max_amount"}

FORM_FIELDS = "(selector) => Array.from(new FormData(document.querySelector(selector)).entries())"


def open_capturing(new_page, server, user, url: str, ready: str):
    page = new_page()
    sent: list[dict] = []

    def on_socket(ws):
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)) if isinstance(payload, str) else None)

    page.on("websocket", on_socket)
    login(page, server, user)
    page.goto(url)
    page.wait_for_selector(ready)
    return page, sent


def submitted(page, sent: list[dict], form: str, button: str, frame_type: str) -> tuple[list, dict]:
    """The form's fields as the HTTP fallback would post them, and the frame the page sent."""
    fields = page.evaluate(FORM_FIELDS, form)
    count = len([s for s in sent if s.get("type") == frame_type])
    page.click(button)
    page.wait_for_selector(".live-toast--ok, .chat-msg--mine:not(.is-pending)")
    frames = [s for s in sent if s.get("type") == frame_type]
    assert len(frames) == count + 1, frames
    return fields, frames[-1]


def assert_contract(fields: list, frame: dict) -> None:
    assert fields, "the form has no fields?"
    for name, value in fields:
        if name in HTTP_ONLY:
            continue
        key = IN_FRAME_AS.get(name, name)
        assert key in frame, f"form field {name!r} is neither in the frame {frame} nor listed as HTTP-only"
        if name in AMOUNTS:
            assert frame[key] == int(value.replace(",", "").replace("원", "").strip()), (name, value, frame)
        elif key == "request_id":
            assert isinstance(frame[key], str) and frame[key], frame
        else:
            assert frame[key] == value, (name, value, frame)


def test_the_live_bid_forms_send_every_field_over_the_socket(live_site, new_page):  # noqa: F811
    auction = f.make_auction(is_national=True, start_price=10_000, buy_now_price=900_000, title="게임기")
    alice = f.make_user(nickname="김민수", balance=2_000_000)
    page, sent = open_capturing(
        new_page, live_site, alice, f"{live_site.url}/auctions/{auction.pk}/", "article[data-conn='live']"
    )
    page.on("dialog", lambda dialog: dialog.accept())

    # the bid mode: an amount and a maximum
    page.fill("#bid-amount", "10,000")
    page.fill("#bid-amount-max", "15,000")
    fields, frame = submitted(page, sent, "#bid-form", "#bid-form button[type=submit]:visible", "bid")
    assert {name for name, _ in fields} >= {"amount", "max_amount", "request_id"}
    assert_contract(fields, frame)
    assert Bid.objects.get(auction=auction).max_amount == 15_000

    # the leader's raise mode
    page.wait_for_selector("[data-bid-mode='raise']:not([hidden])")
    page.evaluate("document.querySelector('[data-live-toasts]').replaceChildren()")
    page.fill("#bid-max", "18,000")
    fields, frame = submitted(page, sent, "#bid-form", "#bid-form button[type=submit]:visible", "bid")
    assert_contract(fields, frame)
    auction.refresh_from_db()
    assert auction.leader_max == 18_000

    # buy-now (its confirm question is the page's)
    page.evaluate("document.querySelector('[data-live-toasts]').replaceChildren()")
    fields, frame = submitted(page, sent, "#buy-now-form", "#buy-now-form button[type=submit]", "buy_now")
    assert_contract(fields, frame)
    auction.refresh_from_db()
    assert auction.status == "sold"


def test_the_chat_compose_form_sends_every_field_over_the_socket(live_site, new_page):  # noqa: F811
    sale = make_sale(title="원목 책상")
    page, sent = open_capturing(
        new_page, live_site, sale.buyer, f"{live_site.url}/chat/{sale.room.pk}/", "[data-chat-room][data-conn='live']"
    )
    page.fill("[data-chat-compose] textarea[name=text]", "내일 저녁에 괜찮으세요?")
    fields, frame = submitted(page, sent, "[data-chat-compose]", "[data-chat-compose] button[type=submit]", "send")
    assert_contract(fields, frame)
    assert Message.objects.filter(room=sale.room, text="내일 저녁에 괜찮으세요?").count() == 1
