"""The public profile, the 후기 남기기 list and the review form."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import User
from auctions.models import Auction
from reviews import rules
from reviews.models import Review
from reviews.services import review_create
from tests.factories import make_auction, make_user
from tests.reviews.helpers import make_trade, snapshot
from tests.web.conftest import signed_in
from trades.models import Trade

pytestmark = pytest.mark.django_db

P1, P2 = rules.POSITIVE_TAGS[:2]
N1 = rules.NEGATIVE_TAGS[0]


def profile_url(user) -> str:
    return reverse("reviews:profile", args=[user.pk])


def test_the_profile_shows_temperature_counts_tags_texts_and_listings(client):
    # given a seller with two completed sales, one purchase, reviews and listings
    seller = make_user(nickname="당근이웃")
    b1, b2 = make_user(nickname="첫구매자"), make_user(nickname="둘구매자")
    t1, t2 = make_trade(seller=seller, buyer=b1), make_trade(seller=seller, buyer=b2)
    make_trade(buyer=seller)
    make_trade(seller=seller, status=Trade.Status.REFUNDED)  # not completed: not counted
    review_create(trade_id=t1.pk, actor=b1, rating="good", tags=[P1, P2], text="오래된 후기")
    review_create(trade_id=t2.pk, actor=b2, rating="good", tags=[P1], text="새 후기")
    live = make_auction(seller=seller, title="판매중 의자")
    # when anyone (signed out) opens the profile
    response = client.get(profile_url(seller))
    page = response.content.decode()
    # then it shows what it should
    assert response.status_code == 200
    assert "당근이웃" in page and seller.username not in page  # the login name stays private
    assert "합정동" in page and "동네 인증 완료" in page
    temperature = User.objects.get(pk=seller.pk).manner_temperature
    assert temperature == Decimal("37.8") and "37.8°C" in page and "temp--mild" in page
    assert 'data-count="sales">2회' in page and 'data-count="purchases">1회' in page
    assert 'data-count="reviews">2개' in page
    assert f"{P1} <strong>2</strong>" in page and f"{P2} <strong>1</strong>" in page
    assert page.index("새 후기") < page.index("오래된 후기")  # newest first
    assert "첫구매자" in page and "구매자" in page
    assert live.title in page and "판매중 의자" in page
    sold_titles = set(Auction.objects.filter(seller=seller, status="sold").values_list("title", flat=True))
    assert all(title in page for title in sold_titles)  # past listings


def test_review_texts_are_paginated(client):
    seller = make_user()
    for i in range(12):
        t = make_trade(seller=seller)
        review_create(trade_id=t.pk, actor=t.buyer, rating="ok", tags=[], text=f"후기번호{i:02d}")
    first = client.get(profile_url(seller)).content.decode()
    second = client.get(profile_url(seller) + "?page=2").content.decode()
    assert "후기번호11" in first and "후기번호02" in first and "후기번호01" not in first
    assert "후기번호01" in second and "후기번호00" in second
    assert client.get(profile_url(seller) + "?page=abc").status_code == 200


def test_review_text_is_shown_as_text_never_as_html(client):
    trade = make_trade()
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text=payload)
    page = client.get(profile_url(trade.seller)).content.decode()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


def test_an_unknown_or_deactivated_user_is_a_404(client):
    gone = make_user()
    User.objects.filter(pk=gone.pk).update(is_active=False)
    assert client.get(profile_url(gone)).status_code == 404
    assert client.get("/u/999999/").status_code == 404


def test_the_auction_page_links_the_seller_to_the_profile_with_the_temperature(client):
    auction = make_auction()
    page = client.get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert f'href="{profile_url(auction.seller)}"' in page and "36.5°C" in page


def test_listing_cards_show_the_sellers_temperature(client):
    make_auction(title="카드 물건")
    page = client.get("/?tab=local").content.decode()
    assert "카드 물건" in page and 'class="temp temp--mild"' in page


def test_pending_lists_completed_trades_not_yet_reviewed():
    trade = make_trade()
    open_trade = make_trade(buyer=trade.buyer, status=Trade.Status.AWAITING_HANDOVER)
    client = signed_in(trade.buyer)
    page = client.get(reverse("reviews:pending")).content.decode()
    assert f'data-pending-trade="{trade.pk}"' in page and f'data-pending-trade="{open_trade.pk}"' not in page
    review_create(trade_id=trade.pk, actor=trade.buyer, rating="good", tags=[], text="")
    page = client.get(reverse("reviews:pending")).content.decode()
    assert f'data-pending-trade="{trade.pk}"' not in page


def test_the_review_form_creates_then_edits():
    trade = make_trade()
    client = signed_in(trade.buyer)
    url = reverse("reviews:review", args=[trade.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"rating": "good", "tags": [P1, P2], "text": "좋았어요"})
    assert response.status_code == 302 and response.url == profile_url(trade.seller)
    review = Review.objects.get()
    assert (review.rating, review.tags, review.text) == ("good", [P1, P2], "좋았어요")
    page = client.get(url).content.decode()
    assert "후기 고치기" in page and "좋았어요" in page
    client.post(url, {"rating": "ok", "tags": [], "text": "보통"})
    review.refresh_from_db()
    assert (review.rating, review.text) == ("ok", "보통")
    assert Review.objects.count() == 1


def test_the_review_form_refuses_bad_input_with_a_message_and_changes_nothing():
    trade = make_trade()
    client = signed_in(trade.buyer)
    url = reverse("reviews:review", args=[trade.pk])
    before = snapshot()
    for data in [
        {"rating": "good", "tags": [N1]},  # a complaint on a 좋아요
        {"rating": "great"},
        {"rating": "good", "tags": ["<b>없는 항목</b>"]},
        {"rating": "good", "text": "가" * 501},
        {},
    ]:
        response = client.post(url, data)
        assert response.status_code == 400, data
    assert "칭찬 항목만" in client.post(url, {"rating": "good", "tags": [N1]}).content.decode()
    assert snapshot() == before


def test_the_review_form_is_only_for_the_two_sides():
    trade = make_trade()
    url = reverse("reviews:review", args=[trade.pk])
    assert signed_in(make_user()).get(url).status_code == 404
    assert signed_in(make_user()).post(url, {"rating": "bad"}).status_code == 404
    response = signed_in(trade.buyer).__class__().get(url)  # signed out
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert Review.objects.count() == 0


def test_an_unfinished_trade_shows_no_form():
    trade = make_trade(status=Trade.Status.SHIPPED)
    client = signed_in(trade.buyer)
    url = reverse("reviews:review", args=[trade.pk])
    page = client.get(url).content.decode()
    assert "거래가 완료된 뒤에 후기를 남길 수 있어요." in page and "후기 보내기" not in page
    response = client.post(url, {"rating": "good"})
    assert response.status_code == 400 and Review.objects.count() == 0


def test_the_listing_form_sets_a_minimum_temperature():
    seller = make_user()
    client = signed_in(seller)
    data = {
        "title": "동네 책상",
        "category": "furniture",
        "condition": "good",
        "start_price": "20,000",
        "duration_hours": "24",
        "kind": "local",
        "min_manner_temperature": "37.5",
    }
    response = client.post(reverse("auctions:create"), data)
    assert response.status_code == 302
    assert Auction.objects.get(title="동네 책상").min_manner_temperature == Decimal("37.5")
    # not on a national listing: a clear message, nothing listed
    response = client.post(reverse("auctions:create"), {**data, "title": "전국 책상", "kind": "national"})
    assert response.status_code == 400 and "동네 경매에만" in response.content.decode()
    assert not Auction.objects.filter(title="전국 책상").exists()
    # and a value that is not one of the choices is a form error
    assert client.post(reverse("auctions:create"), {**data, "min_manner_temperature": "98"}).status_code == 400


def test_the_auction_page_tells_a_cold_bidder_about_the_minimum():
    auction = make_auction(min_manner_temperature=Decimal("40.0"))
    page = signed_in(make_user()).get(reverse("auctions:detail", args=[auction.pk])).content.decode()
    assert "매너온도 40.0°C 이상인 이웃만 입찰할 수 있는 경매예요." in page and "note--warn" in page
