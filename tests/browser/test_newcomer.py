"""What a newcomer tripped over (issue 18 #17), done as a person does it in a real browser:
sign-up help and errors in 해요체 and wired to the fields, a bid after being signed out in
another tab, logging out, and a suspended account's auction page."""

from __future__ import annotations

import pytest

from accounts.models import User
from auctions.models import Bid
from tests.factories import make_auction, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-for-tests-1234"


def login(page, base: str, username: str, *, landing: str = "/") -> None:
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}{landing}")


def described_by_exists(page, selector: str) -> list[str]:
    """The ids an input's aria-describedby names that the page lacks."""
    return page.eval_on_selector(
        selector,
        "el => (el.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)"
        ".filter(id => !document.getElementById(id))",
    )


def test_signup_speaks_haeyoche_and_wires_help_and_errors_to_the_fields(site, new_page):
    page = new_page()
    page.goto(f"{site}/accounts/signup/")
    assert page.locator("#id_neighbourhood").count() == 0  # no list of 3,512 동: verification finds it
    help_text = page.locator("#id_password1_helptext").inner_text()
    assert "합니다" not in help_text and "습니다" not in help_text and "수 없어요" in help_text
    assert page.eval_on_selector("#id_email", "el => getComputedStyle(el).borderRadius") == "10px"
    assert described_by_exists(page, "#id_password1") == []

    page.fill("#id_username", "newbie")
    page.fill("#id_nickname", "새내기")
    page.fill("#id_email", "newbie@example.com")
    page.fill("#id_password1", "12345678")
    page.fill("#id_password2", "12345678")
    page.get_by_role("button", name="가입하기").click()
    page.wait_for_load_state()

    errors = page.locator("#id_password2_error").inner_text()
    assert "숫자로만 된 비밀번호예요" in errors
    assert "니다" not in page.locator("main").inner_text()
    assert page.get_attribute("#id_password2", "aria-invalid") == "true"
    assert described_by_exists(page, "#id_password2") == []
    assert not User.objects.filter(username="newbie").exists()

    page.fill("#id_password1", "quiet-maple-tree-91")
    page.fill("#id_password2", "quiet-maple-tree-91")
    page.get_by_role("button", name="가입하기").click()
    page.wait_for_url(f"{site}/accounts/verify/")
    assert User.objects.filter(username="newbie", nickname="새내기").exists()


def test_a_bid_sent_after_signing_out_elsewhere_keeps_the_typed_amounts(site, new_page):
    auction = make_auction(start_price=10_000)
    bidder = make_user(username="jiyoung", balance=100_000)
    page = new_page(width=1280, height=900)
    page.goto(f"{site}/accounts/login/")
    login(page, site, "jiyoung")
    page.goto(f"{site}/auctions/{auction.pk}/")
    # signed out in another tab of the same browser
    other_tab = page.context.new_page()
    other_tab.goto(f"{site}/")
    other_tab.get_by_role("button", name="로그아웃").first.click()
    other_tab.wait_for_url(f"{site}/")
    assert "로그아웃했어요" in other_tab.locator(".messages").inner_text()

    page.fill("#bid-amount", "15,000")
    page.fill("#bid-amount-max", "30,000")
    page.locator("#bid-form button[type=submit]").click()
    page.wait_for_url(f"{site}/accounts/login/**")
    assert "로그인이 풀렸어요" in page.locator(".messages").inner_text()
    assert Bid.objects.filter(auction=auction).count() == 0

    login(page, site, "jiyoung", landing=f"/auctions/{auction.pk}/**")
    assert page.input_value("#bid-amount") == "15,000"
    assert page.input_value("#bid-amount-max") == "30,000"
    page.locator("#bid-form button[type=submit]").click()
    page.get_by_role("button", name="네, 이 금액으로 입찰할게요").click()  # the maximum is far above the minimum
    page.wait_for_url(f"{site}/auctions/{auction.pk}/")
    bid = Bid.objects.get(auction=auction, bidder=bidder)
    assert (bid.amount, bid.max_amount) == (15_000, 30_000)


def test_a_suspended_account_sees_why_since_when_and_no_bid_forms(site, new_page):
    from accounts.services import user_suspend
    from tests.factories import make_moderator

    auction = make_auction(start_price=10_000, buy_now_price=50_000)
    person = make_user(username="jiyoung", balance=100_000)
    user_suspend(user_id=person.pk, staff_user=make_moderator(), reason="신고 누적으로 이용을 정지해요.")
    page = new_page()
    page.goto(f"{site}/accounts/login/")
    login(page, site, "jiyoung")
    page.goto(f"{site}/auctions/{auction.pk}/")
    banner = page.locator(".banner--danger").inner_text()
    assert ".." not in banner
    assert "부터 정지됐고" in banner
    assert page.locator("#bid-form").count() == 0
    assert page.locator("#buy-now-form").count() == 0
    assert "입찰하거나 즉시구매할 수 없어요" in page.locator("[data-suspended]").inner_text()


@pytest.mark.parametrize(("minutes", "colour"), [(90, "rgb(33, 33, 36)"), (5, "rgb(194, 38, 46)")])
def test_the_countdown_turns_red_only_near_the_end(site, new_page, minutes, colour):
    """Issue 18 #18: the countdown was always red; now ink, red in the last 10 minutes."""
    auction = make_auction(start_price=10_000, minutes=minutes)
    page = new_page()
    page.goto(f"{site}/auctions/{auction.pk}/")
    countdown = page.locator("[data-live='countdown']")
    page.wait_for_function("document.querySelector(\"[data-live='countdown']\").textContent.includes('남음')")
    assert countdown.evaluate("el => getComputedStyle(el).color") == colour


def test_the_message_menu_is_a_finger_sized_target_and_hides_the_message(site, new_page):
    """Issue 18 #20: the chat's "⋯" was a 13×20 px target."""
    from datetime import timedelta

    from django.utils import timezone

    from auctions.services import auction_settle, bid_place
    from chat.models import MessageHide
    from chat.services import chat_room_ensure, message_send
    from tests.factories import rid, set_end
    from trades.selectors import trade_for_auction

    seller = make_user(username="minsu")
    buyer = make_user(username="jiyoung", balance=50_000)
    auction = make_auction(seller=seller, start_price=10_000)
    bid_place(actor=buyer, auction_id=auction.pk, amount=10_000, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=auction.pk)
    room = chat_room_ensure(actor=buyer, trade_id=trade_for_auction(auction_id=auction.pk).pk)
    sent = message_send(actor=seller, room_id=room.pk, text="내일 저녁에 괜찮으세요?")

    page = new_page()
    page.goto(f"{site}/accounts/login/")
    login(page, site, "jiyoung")
    page.goto(f"{site}/chat/{room.pk}/")
    menu = page.get_by_label("메시지 메뉴").first
    box = menu.bounding_box()
    assert box and box["width"] >= 44 and box["height"] >= 44
    menu.click()
    page.get_by_role("button", name="나에게서 숨기기").first.click()
    page.wait_for_load_state()
    assert MessageHide.objects.filter(user=buyer, message_id=sent.message.pk).exists()


def _won_trade(seller, buyer, title: str):
    from datetime import timedelta

    from django.utils import timezone

    from auctions.services import auction_settle, bid_place
    from tests.factories import rid, set_end
    from trades.selectors import trade_for_auction

    auction = make_auction(seller=seller, start_price=10_000, title=title)
    bid_place(actor=buyer, auction_id=auction.pk, amount=10_000, request_id=rid())
    set_end(auction, timezone.now() - timedelta(seconds=1))
    auction_settle(auction_id=auction.pk)
    return trade_for_auction(auction_id=auction.pk)


def test_the_room_list_shows_the_last_message_and_unread_and_no_empty_rooms(site, new_page):
    """Issue 18 #20: the room list had no last message, time or unread count, and listed empty rooms."""
    from chat.models import Room
    from chat.services import chat_room_ensure

    seller = make_user(username="minsu")
    buyer = make_user(username="jiyoung", balance=50_000)
    talked = _won_trade(seller, buyer, "원목 식탁")
    silent = _won_trade(seller, buyer, "캠핑 의자")
    room = chat_room_ensure(actor=buyer, trade_id=talked.pk)
    chat_room_ensure(actor=buyer, trade_id=silent.pk)  # opened with the trade, nobody wrote in it
    assert not Room.objects.get(trade_id=silent.pk).messages.exists()

    seller_page = new_page(width=1280, height=900)
    seller_page.goto(f"{site}/accounts/login/")
    login(seller_page, site, "minsu")
    seller_page.goto(f"{site}/chat/{room.pk}/")
    seller_page.fill("#chat-text", "내일 저녁 7시에 합정역 어때요?")
    seller_page.get_by_role("button", name="보내기").click()
    seller_page.wait_for_function("document.body.innerText.includes('합정역 어때요')")

    buyer_page = new_page()
    buyer_page.goto(f"{site}/accounts/login/")
    login(buyer_page, site, "jiyoung")
    buyer_page.goto(f"{site}/chat/")
    items = buyer_page.locator(".chat-rooms__item")
    assert items.count() == 1
    assert "원목 식탁" in items.first.inner_text()
    assert "합정역 어때요" in items.first.locator("[data-room-last]").inner_text()
    assert items.first.locator("[data-room-time]").count() == 1
    assert items.first.locator(f"[data-room-unread='{room.pk}']").inner_text() == "1"
