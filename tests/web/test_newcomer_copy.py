"""Issue 18 #19 and #22: Korean slips on the auction pages, and empty lists that point to the
national live auctions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from auctions.services import bid_place
from tests.factories import make_auction, make_user, rid
from tests.web.conftest import signed_in

pytestmark = pytest.mark.django_db


def test_the_leader_reads_won_with_ieyo_and_hears_they_lead_once():
    auction = make_auction(start_price=10_000)
    leader = make_user(balance=100_000)
    bid_place(actor=leader, auction_id=auction.pk, amount=10_000, max_amount=25_000, request_id=rid())
    page = signed_in(leader).get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert "25,000원이에요" in page and "원예요" not in page
    assert page.count("지금 최고 입찰자예요") == 1


def test_right_after_a_bid_the_page_says_you_lead_once():
    # the flash message after the bid and the page's note used to say it twice
    auction = make_auction(start_price=10_000)
    client = signed_in(make_user(balance=100_000))
    response = client.post(reverse("auctions:bid", args=[auction.pk]), {"amount": "10,000", "request_id": rid()})
    page = client.get(response.url).content.decode()
    assert "10,000원에 입찰했어요." in page
    assert page.count("지금 최고 입찰자예요") == 1


def test_a_national_page_leaves_saying_it_to_its_live_note():
    auction = make_auction(start_price=10_000, is_national=True)
    leader = make_user(balance=100_000)
    bid_place(actor=leader, auction_id=auction.pk, amount=10_000, request_id=rid())
    page = signed_in(leader).get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert page.count("지금 최고 입찰자예요") == 1 and "data-live-you-lead" in page


def test_a_missing_page_does_not_call_itself_an_auction(client):
    page = client.get("/no-such-page/").content.decode()
    assert "볼 수 없는 경매예요" not in page


def test_the_home_title_does_not_repeat_the_site_name(client):
    page = client.get("/").content.decode()
    assert "<title>동네 경매 · 동네경매</title>" not in page


def test_an_empty_local_list_points_to_the_national_auctions(client):
    page = client.get("/?tab=local").content.decode()
    assert "아직 진행 중인 경매가 없어요" in page
    assert 'href="?tab=national" data-empty-national' in page


def test_an_empty_my_page_points_to_the_national_auctions():
    page = signed_in(make_user()).get(reverse("auctions:my")).content.decode()
    assert "data-empty-national" in page


def test_the_amount_help_does_not_say_digits_only_next_to_a_comma_example():
    from auctions.forms import AMOUNT_HELP

    assert "숫자만" not in str(AMOUNT_HELP) and "12,000" in str(AMOUNT_HELP)


def test_card_badges_say_what_they_are(client):
    """Issue 18 #22: the seller's 36.5°C and the hammer count were bare numbers on the cards."""
    make_auction(start_price=10_000, is_national=True)
    page = client.get("/?tab=national").content.decode()
    assert "판매자 매너" in page
    assert "입찰 0회" in page
