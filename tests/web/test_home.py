"""Home: local (range) and national tabs, search, category, sort, pagination, query count."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from auctions.models import Auction
from auctions.services import auction_photos_add
from tests.factories import make_auction, make_user, neighbourhood, rid
from tests.web.conftest import signed_in, upload

pytestmark = pytest.mark.django_db


def titles(response) -> list[str]:
    return [a.title for a in response.context["page"].object_list]


def test_anonymous_home_lists_open_local_auctions():
    make_auction(title="원목 식탁")
    make_auction(title="전국 한정판 운동화", is_national=True)
    response = Client().get(reverse("auctions:home"))
    assert response.status_code == 200
    assert titles(response) == ["원목 식탁"]
    national = Client().get(reverse("auctions:home"), {"tab": "national"})
    assert titles(national) == ["전국 한정판 운동화"]


def test_local_tab_follows_the_users_range_and_shows_distance():
    near = make_user(place=neighbourhood("서교동"))  # ~1.6 km from 합정동 (the 통계청 centres)
    far = make_user(place=neighbourhood("역삼1동", "서울특별시 강남구"))  # ~11 km
    make_auction(seller=near, title="가까운 소파")
    make_auction(seller=far, title="먼 냉장고")
    viewer = make_user(radius_km=3)  # lives in 합정동
    client = signed_in(viewer)
    response = client.get(reverse("auctions:home"))
    assert titles(response) == ["가까운 소파"]
    page = response.content.decode()
    assert "1.6km" in page and "서교동" in page
    User.objects.filter(pk=viewer.pk).update(search_radius_km=10)
    assert titles(client.get(reverse("auctions:home"))) == ["가까운 소파"]  # 역삼동 is beyond 10 km
    assert "먼 냉장고" not in client.get(reverse("auctions:home")).content.decode()


def test_search_matches_title_and_description_and_category_filters():
    seller = make_user()
    make_auction(seller=seller, title="이케아 식탁", category="furniture")
    make_auction(seller=seller, title="의자 두 개", description="식탁 의자로 쓰기 좋아요", category="furniture")
    make_auction(seller=seller, title="전자레인지", category="appliance")
    client = Client()
    assert sorted(titles(client.get("/", {"q": "식탁"}))) == ["의자 두 개", "이케아 식탁"]
    assert titles(client.get("/", {"q": "전자"})) == ["전자레인지"]
    assert titles(client.get("/", {"category": "appliance"})) == ["전자레인지"]
    assert len(titles(client.get("/", {"category": "furniture"}))) == 2
    assert "맞는 경매가 없어요" in client.get("/", {"q": "없는물건"}).content.decode()


def test_sorts():
    seller = make_user()
    buyer = make_user(balance=1_000_000)
    from auctions.services import bid_place

    cheap = make_auction(seller=seller, title="싼 것", start_price=1_000, minutes=90)
    dear = make_auction(seller=seller, title="비싼 것", start_price=90_000, minutes=30)
    popular = make_auction(seller=seller, title="인기", start_price=5_000, minutes=60)
    bid_place(auction_id=popular.pk, actor=buyer, amount=5_000, request_id=rid())
    bid_place(auction_id=popular.pk, actor=make_user(balance=100_000), amount=6_000, request_id=rid())
    client = Client()
    assert titles(client.get("/", {"sort": "ending"})) == ["비싼 것", "인기", "싼 것"]
    assert titles(client.get("/", {"sort": "newest"})) == ["인기", "비싼 것", "싼 것"]
    assert titles(client.get("/", {"sort": "price"})) == ["싼 것", "인기", "비싼 것"]
    assert titles(client.get("/", {"sort": "price_desc"})) == ["비싼 것", "인기", "싼 것"]
    assert titles(client.get("/", {"sort": "bids"}))[0] == "인기"
    assert cheap.pk and dear.pk


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"page": "-1"},
        {"page": "99999"},
        {"sort": "evil; drop table"},
        {"category": "nonsense"},
        {"tab": "weird"},
        {"q": "x" * 500},
        {"q": "%_\\'\""},
        {"q": "식탁\x00"},
        {"category": "furniture\x00"},
        {"sort": "\x00"},
    ],
)
def test_odd_parameters_never_break_the_page(params):
    make_auction()
    assert Client().get("/", params).status_code == 200


def test_pagination():
    seller = make_user()
    for i in range(23):
        Auction.objects.filter(pk=make_auction(seller=seller, title=f"물건 {i}").pk)
    client = Client()
    first = client.get("/")
    assert len(titles(first)) == 20 and first.context["page"].has_next()
    second = client.get("/", {"page": "2"})
    assert len(titles(second)) == 3
    assert 'rel="next"' in first.content.decode()


def test_the_next_and_previous_links_walk_the_whole_list_and_back():
    import re

    seller = make_user()
    for i in range(45):
        make_auction(seller=seller, title=f"물건 {i}")
    client = Client()
    link = lambda html, rel: re.search(rf'href="\?([^"]*)" rel="{rel}"', html)  # noqa: E731
    seen, url, pages = [], "", []
    while True:
        response = client.get("/?" + url)
        seen += titles(response)
        pages.append(titles(response))
        found = link(response.content.decode(), "next")
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
        assert "after=" in url
    assert len(seen) == len(set(seen)) == 45 and len(pages) == 3
    back = []
    html = response.content.decode()
    while (found := link(html, "prev")) is not None:
        response = client.get("/?" + found.group(1).replace("&amp;", "&"))
        html = response.content.decode()
        back.insert(0, titles(response))
    assert back == pages[:-1]


def test_home_does_not_run_a_query_per_auction(django_assert_max_num_queries):
    seller = make_user(place=neighbourhood("서교동"))
    for i in range(20):
        auction = make_auction(seller=seller, title=f"사진 있는 물건 {i}")
        if i < 3:
            auction_photos_add(auction_id=auction.pk, actor=seller, files=[upload()])
    viewer = make_user(radius_km=6)
    client = signed_in(viewer)
    client.get("/")  # warm the session
    # session, user, unread badge, trades-to-act-on badge, chat badge, the viewer's 동, the 동 in range,
    # page ids, page rows (+ the savepoint and SET LOCAL that plan a radius list for its own 동)
    with django_assert_max_num_queries(12):
        response = client.get("/")
    assert len(titles(response)) == 20
    assert response.content.decode().count('loading="lazy"') >= 20
    with django_assert_max_num_queries(10):  # the same badges, no radius plan
        client.get("/", {"tab": "national", "q": "물건", "sort": "bids"})


def test_my_page_does_not_run_a_query_per_auction(django_assert_max_num_queries):
    from auctions.services import bid_place, watch_toggle

    seller = make_user()
    bidder = make_user(balance=1_000_000)
    for i in range(12):
        auction = make_auction(seller=seller, title=f"물건 {i}")
        bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
        watch_toggle(actor=bidder, auction_id=auction.pk)
    client = signed_in(bidder)
    client.get(reverse("auctions:my"))
    for tab in ["bids", "listings", "watching", "won"]:
        # session, user, unread badge, 나의 거래 badge, chat badge, neighbourhood table, count, page
        with django_assert_max_num_queries(9):
            response = client.get(reverse("auctions:my"), {"tab": tab})
        assert response.status_code == 200
    assert len(titles(client.get(reverse("auctions:my"), {"tab": "watching"}))) == 12


def test_auction_page_query_count_does_not_grow_with_photos_and_bids(django_assert_max_num_queries):
    from auctions.services import bid_place

    seller = make_user()
    auction = make_auction(seller=seller, start_price=1_000)
    auction_photos_add(auction_id=auction.pk, actor=seller, files=[upload(size=(60, 60)) for _ in range(6)])
    for i in range(8):
        bid_place(auction_id=auction.pk, actor=make_user(balance=100_000), amount=1_000 + i * 500, request_id=rid())
    client = signed_in(make_user())
    client.get(reverse("auctions:detail", args=[auction.pk]))
    # session, user, badge, header neighbourhood, auction (+seller, place, leader), recent bids,
    # photos, watch, viewer's and auction's neighbourhoods for the distance; the chat badge and
    # the questions (count, page, their answers)
    with django_assert_max_num_queries(13):
        response = client.get(reverse("auctions:detail", args=[auction.pk]))
    assert response.status_code == 200


def test_home_counts_nothing_and_thumbnails_only_its_page():
    """At 100k open auctions a COUNT(*) per page was 80 ms and the thumbnail subquery ran for
    every skipped row of a deep page (docs/benchmarks.md, "Pages at scale")."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seller = make_user()
    for i in range(25):
        make_auction(seller=seller, title=f"물건 {i}")
    client = signed_in(make_user(radius_km=6))
    client.get("/")
    for params in [{}, {"page": "2"}, {"tab": "national"}, {"q": "물건", "sort": "price"}]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/", params)
        assert response.status_code == 200
        auction_sql = [q["sql"].upper() for q in ctx.captured_queries if "AUCTIONS_AUCTION" in q["sql"].upper()]
        assert auction_sql and not any("COUNT(" in sql for sql in auction_sql)
        assert not any("OFFSET" in sql and "AUCTIONS_AUCTIONPHOTO" in sql for sql in auction_sql)
    second = client.get("/", {"page": "2"})
    assert len(titles(second)) == 5 and not second.context["page"].has_next()
    assert 'rel="prev"' in second.content.decode() and 'rel="next"' not in second.content.decode()


def test_a_single_page_list_shows_its_count():
    make_auction(title="하나")
    make_auction(title="둘")
    assert "경매 2개" in Client().get("/").content.decode()


def test_a_page_past_the_end_offers_the_first_page():
    make_auction(title="하나")
    page = Client().get("/", {"page": "7", "q": "하나"}).content.decode()
    assert "이 쪽에는 경매가 없어요." in page and 'href="?q=' in page and "첫 쪽으로" in page
