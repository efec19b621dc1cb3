"""Issue 18, what a newcomer tripped over, tried in a real browser: each test types and clicks
as a person does and then reads what the database holds."""

from __future__ import annotations

import pytest

from reviews import rules
from reviews.models import Review
from tests.browser.test_live import live_site, static_root  # noqa: F401  (fixtures)
from tests.browser.test_trust_story import login
from tests.factories import make_user
from tests.reviews.helpers import make_trade

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_review_form_offers_only_the_tags_that_fit_the_rating(site, new_page, shot):
    # given a completed trade, the buyer on the review form
    buyer = make_user(username="jiyoung")
    trade = make_trade(buyer=buyer, seller=make_user(nickname="민수네"))
    page = new_page()
    login(page, site, "jiyoung")
    page.goto(f"{site}/reviews/trade/{trade.pk}/")
    praise, complaint = page.get_by_label(rules.POSITIVE_TAGS[0]), page.get_by_label(rules.NEGATIVE_TAGS[0])
    # before a rating no tag is offered, and a hint says why
    assert not praise.is_visible() and not complaint.is_visible()
    assert page.locator("[data-tags-hint]").is_visible()
    # 좋아요: only what was good
    page.get_by_role("radio", name="좋아요", exact=True).check()
    assert praise.is_visible() and not complaint.is_visible()
    praise.check()
    # changed to 별로예요: the praise goes away, unticked; only what was bad is offered
    page.get_by_role("radio", name="별로예요", exact=True).check()
    assert not praise.is_visible() and complaint.is_visible()
    complaint.check()
    shot(page, "hardening-review-tags")
    page.locator("form.stack button[type=submit]").click()
    page.wait_for_url(f"{site}/u/{trade.seller_id}/")
    # then what was stored agrees with the rating: no refusal after submit
    review = Review.objects.get(trade=trade, reviewer=buyer)
    assert (review.rating, review.tags) == (rules.BAD, [rules.NEGATIVE_TAGS[0]])


def test_the_chat_photo_picker_is_the_sites_own_and_sends_the_photo(site, new_page, shot, tmp_path):
    from chat.models import Message
    from tests.chat.conftest import make_sale
    from tests.web.conftest import image_bytes

    # given the winner in the trade's room
    sale = make_sale(title="원목 책상")
    photo = tmp_path / "desk.png"
    photo.write_bytes(image_bytes("PNG", (640, 480)))
    page = new_page()
    login(page, site, sale.buyer.username)
    page.goto(f"{site}/chat/{sale.room.pk}/")
    page.get_by_text("사진 · 거래 약속").click()
    # the picker is a labelled button of the site, not the browser's bare "Choose File"
    picker = page.locator("#chat-photo-pick")
    assert picker.is_visible() and "사진 고르기" in picker.inner_text()
    assert page.locator("#chat-photo").bounding_box()["width"] <= 1  # the bare input is out of sight
    # when they press it and choose a photo, a preview shows before sending
    with page.expect_file_chooser() as chooser:
        picker.click()
    chooser.value.set_files(str(photo))
    page.locator(".chat-extra .photo-strip--preview img").wait_for()
    assert "다른 사진 고르기" in picker.inner_text()
    shot(page, "hardening-chat-photo-picker")
    page.locator("form:has(#chat-photo) button[type=submit]").click()
    page.wait_for_load_state()
    # then the room holds one photo message from them
    page.locator(".chat-photo img").first.wait_for()
    sent = Message.objects.filter(room=sale.room, kind="photo")
    assert [m.sender_id for m in sent] == [sale.buyer.pk]


def test_a_notification_with_every_action_fits_a_390px_phone(site, new_page, shot):
    from notifications.services import notification_create

    # given a finished trade's notification, which offers all four actions
    trade = make_trade(seller=make_user(username="minsu"))
    notification_create(
        user_ids=[trade.seller_id],
        kind="trade_completed",
        auction=trade.auction,
        message="구매자가 구매확정했어요. 20,000원이 지갑에 들어왔어요. 이웃에게 따뜻한 후기를 남겨 주세요.",
    )
    page = new_page(width=390, height=844)
    login(page, site, "minsu")
    page.goto(f"{site}/notifications/")
    item = page.locator(".notes__item").first
    box = item.bounding_box()
    actions = item.locator(".notes__actions .btn")
    assert actions.count() == 4
    # then every action sits inside the card, none cut off at its right edge
    for n in range(actions.count()):
        button = actions.nth(n).bounding_box()
        assert button["x"] >= box["x"] and button["x"] + button["width"] <= box["x"] + box["width"] + 0.5, (n, button)
    shot(page, "hardening-notification-actions-390")
    # and the read button still works as a person presses it
    item.get_by_role("button", name="읽음").click()
    page.wait_for_load_state()
    from notifications.models import Notification

    assert Notification.objects.get(user_id=trade.seller_id).read_at is not None


CUT_PLACEHOLDERS = """() => Array.from(document.querySelectorAll("input[placeholder]"))
  .filter((e) => e.offsetParent !== null && e.placeholder)
  .map((e) => {
    const cs = getComputedStyle(e);
    const pen = document.createElement("canvas").getContext("2d");
    pen.font = `${cs.fontStyle} ${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    const room = e.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    return {field: e.name || e.id, text: e.placeholder, width: pen.measureText(e.placeholder).width, room};
  })
  .filter((x) => x.width > x.room)"""


@pytest.mark.parametrize("width", [360, 390])
def test_no_placeholder_is_cut_off_on_a_phone(site, new_page, width):
    from tests.factories import make_auction

    # given a signed-in neighbour on the pages with typed inputs
    me = make_user(username="jiyoung", balance=5_000_000)
    auction = make_auction(start_price=10_000)
    live = make_auction(start_price=10_000, is_national=True)
    leading = make_auction(start_price=10_000)
    from auctions.services import bid_place
    from tests.factories import rid

    for lead in (leading, live):  # the leader's raise form: "…원보다 높게"
        bid_place(auction_id=lead.pk, actor=me, amount=1_250_000, max_amount=1_990_000, request_id=rid())
    page = new_page(width=width, height=800)
    page.goto(f"{site}/accounts/signup/")
    cut = {"/accounts/signup/": page.evaluate(CUT_PLACEHOLDERS)}
    login(page, site, "jiyoung")
    pages = ["/", f"/auctions/{auction.pk}/", f"/auctions/{leading.pk}/", f"/auctions/{live.pk}/"]
    for path in (*pages, "/auctions/new/", "/accounts/verify/", "/wallet/"):
        page.goto(f"{site}{path}")
        cut[path] = page.evaluate(CUT_PLACEHOLDERS)
    # then every placeholder shown fits its field
    assert {path: found for path, found in cut.items() if found} == {}
    # and the leader still reads the floor of a raise, in full, next to the field
    for lead in (leading, live):
        page.goto(f"{site}/auctions/{lead.pk}/")
        assert page.locator("label[for=bid-max]").inner_text().endswith("1,990,000원보다 높게")


@pytest.mark.parametrize("photos", [0, 1])
def test_on_a_phone_the_bid_button_is_on_the_first_screen(site, new_page, shot, photos):
    from auctions.models import Auction, Bid
    from tests.factories import make_auction

    # given a verified neighbour opening a local listing on a phone: 390 px wide, 664 px of page
    # between the browser's bars (an iPhone 12/13/14 in Safari)
    make_user(username="jiyoung", balance=100_000)
    auction = make_auction(start_price=10_000, title="원목 식탁 의자 2개")
    if photos:
        from auctions.services import auction_photos_add
        from tests.web.conftest import upload

        auction_photos_add(actor=auction.seller, auction_id=auction.pk, files=[upload("a.png", size=(1200, 1200))])
    page = new_page(width=390, height=664)
    login(page, site, "jiyoung")
    page.goto(f"{site}/auctions/{auction.pk}/")
    # then, with no photo, the amount field and the 입찰하기 button are on the first screen; with
    # photos (at most 40 % of the screen tall) at least the price and the minimum bid are
    button = page.locator("#bid-form [data-bid-mode=bid] button[type=submit]")
    field = page.locator("#bid-amount")
    first_screen = [page.locator("[data-live=min_next_bid]")] if photos else [field, button]
    for thing in first_screen:
        box = thing.bounding_box()
        assert box["y"] + box["height"] <= 664, box
    shot(page, f"hardening-phone-bid-first-screen-{photos}", full_page=False)
    # and a bid typed there lands
    field.fill("10,000")
    button.click()
    page.wait_for_url(f"{site}/auctions/{auction.pk}/")
    assert Bid.objects.filter(auction=auction).count() == 1
    assert Auction.objects.get(pk=auction.pk).current_price == 10_000


def _chart(page) -> dict:
    figure = page.locator("[data-chart=figure]")
    return {
        "shown": figure.is_visible(),
        **{name: figure.locator(f"[data-chart={name}]").inner_text() for name in ("ymax", "ymin", "t0", "t1")},
    }


def test_the_price_chart_names_its_prices_and_times_and_follows_live_bids(live_site, new_page, shot):  # noqa: F811
    from datetime import timedelta

    from django.utils import timezone

    from tests import factories as f
    from tests.browser.test_live import live_pages

    # given a national auction with no bid yet, open on two signed-in pages
    auction = f.make_auction(is_national=True, start_price=10_000, title="한정판 스니커즈")
    alice, bob = f.make_user(balance=1_000_000), f.make_user(balance=1_000_000)
    page_a, page_b = live_pages(new_page, live_site, f"{live_site.url}/auctions/{auction.pk}/", [alice, bob])
    assert page_b.locator("[data-chart-empty]").is_visible() and not _chart(page_b)["shown"]
    # when both bid on their pages, as people do
    page_a.fill("#bid-amount", "10,000")
    page_a.click("#bid-form button[type=submit]:visible")
    page_b.wait_for_selector("[data-live=min_next_bid] >> text=11,000원")  # Alice's bid is on Bob's page
    page_b.fill("#bid-amount", "12,000")
    page_b.click("#bid-form button[type=submit]:visible")
    page_a.wait_for_selector("[data-chart=ymax] >> text=12,000원")
    # then the chart on the other page says the highest and lowest price and when, in Korean time
    now = timezone.localtime().strftime("%H:%M")
    chart = _chart(page_a)
    assert chart["shown"] and (chart["ymax"], chart["ymin"]) == ("12,000원", "10,000원"), chart
    a_minute_ago = (timezone.localtime() - timedelta(minutes=1)).strftime("%H:%M")
    assert chart["t1"] in (now, a_minute_ago), chart
    assert not page_a.locator("[data-chart-empty]").count()
    shot(page_a, "hardening-price-chart-live")
    # and a reload draws the same labels from the server
    page_a.reload()
    assert _chart(page_a)["ymax"] == "12,000원" and _chart(page_a)["ymin"] == "10,000원"
    from auctions.models import Auction

    assert Auction.objects.get(pk=auction.pk).current_price == 12_000


ADMIN_LISTS = [
    "accounts/user",
    "auctions/auction",
    "auctions/bid",
    "auctions/report",
    "trades/trade",
    "wallets/wallet",
    "wallets/ledgerentry",
    "chat/room",
    "chat/chatreport",
    "reviews/review",
    "fraud/shillcase",
]


def test_the_admin_lists_fit_a_1366px_laptop(site, new_page, shot):
    from accounts.services import user_create
    from auctions.models import Report
    from auctions.services import bid_place, report_create
    from tests.factories import make_auction, rid

    # given a superuser and lists with real rows (long titles, names, amounts)
    root = user_create(username="root-admin", password="pw-for-tests-1234", nickname="운영자", superuser=True)
    seller = make_user(nickname="아주아주긴닉네임을가진판매자님")
    bidder = make_user(nickname="입찰을자주하는이웃", balance=5_000_000)
    auction = make_auction(
        seller=seller,
        title="원목 식탁 의자 네 개 세트 (거의 새것, 직거래만 가능해요) 합정역 근처",
        start_price=1_250_000,
    )
    bid_place(auction_id=auction.pk, actor=bidder, amount=1_250_000, max_amount=3_500_000, request_id=rid())
    report_create(actor=bidder, reason=Report.Reason.FRAUD, text="사기 의심 " * 20, auction_id=auction.pk)
    make_trade(seller=seller, buyer=bidder, amount=1_250_000)
    page = new_page(width=1366, height=768)
    login(page, site, root.username)
    # then no change list runs past the screen's right edge
    wide = {}
    for path in ADMIN_LISTS:
        page.goto(f"{site}/admin/{path}/")
        # the page itself, and the results table (Django's admin scrolls it inside .results)
        over = page.evaluate(
            """() => Math.max(document.documentElement.scrollWidth - document.documentElement.clientWidth,
                ...Array.from(document.querySelectorAll('.results')).map((e) => e.scrollWidth - e.clientWidth))"""
        )
        if over > 0:
            wide[path] = over
        if path in ("wallets/ledgerentry", "auctions/auction"):
            shot(page, "hardening-admin-1366-" + path.replace("/", "-"), full_page=False)
    assert wide == {}
