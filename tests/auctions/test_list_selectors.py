"""The home list's reads: one page without a COUNT, the same rows and order as the full list,
and the radius (box first, haversine after) with the same members as the whole-table distances."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Neighbourhood
from accounts.selectors import neighbourhood_distances, neighbourhood_distances_within, neighbourhood_ids_within
from auctions import selectors
from auctions.models import Auction
from auctions.selectors import auction_list, auction_list_page, list_page_number
from auctions.services import auction_photos_add
from tests.factories import make_auction, make_user, neighbourhood, set_end
from tests.web.conftest import upload

pytestmark = pytest.mark.django_db


def _all_pages(**kwargs) -> list[int]:
    ids, page = [], 1
    while True:
        result = auction_list_page(page=page, page_size=4, **kwargs)
        ids += [a.pk for a in result.object_list]
        if not result.has_next():
            return ids
        page += 1


@pytest.fixture
def listing():
    """Given: local auctions in three 동, national ones, categories, prices, ends and bids."""
    from datetime import timedelta

    from django.utils import timezone

    from auctions.services import bid_place
    from tests.factories import rid

    hapjeong, seogyo, yeoksam = (
        neighbourhood("합정동"),
        neighbourhood("서교동"),
        neighbourhood("역삼1동", "서울특별시 강남구"),
    )
    sellers = [make_user(place=place) for place in (hapjeong, seogyo, yeoksam)]
    bidder = make_user(balance=10_000_000, place=hapjeong)
    made = []
    for n in range(13):
        auction = make_auction(
            seller=sellers[n % 3],
            title=f"{'원목 식탁' if n % 4 == 0 else '의자'} {n}",
            description="식탁 옆에 두기 좋아요" if n == 5 else "",
            category="furniture" if n % 2 else "digital",
            start_price=1_000 * (1 + (n * 7) % 11),
            is_national=n % 5 == 4,
        )
        set_end(auction, timezone.now() + timedelta(minutes=30 + (n * 37) % 200))
        made.append(auction)
    for auction in made[:2]:  # 합정동 and 서교동: in the bidder's range
        bid_place(auction_id=auction.pk, actor=bidder, amount=auction.current_price, request_id=rid())
    other = make_user(balance=10_000_000, place=seogyo)
    bid_place(auction_id=made[1].pk, actor=other, amount=made[1].current_price * 2, request_id=rid())
    Auction.objects.filter(pk=made[6].pk).update(is_hidden=True)
    return {"hapjeong": hapjeong, "seogyo": seogyo, "yeoksam": yeoksam, "auctions": made}


@pytest.mark.parametrize("sort", list(selectors.SORTS))
@pytest.mark.parametrize(
    "filters",
    [
        {"national": False},
        {"national": True},
        {"national": False, "q": "식탁"},
        {"national": False, "category": "furniture"},
        {"national": False, "neighbourhood_ids": "near"},
    ],
)
def test_pages_hold_the_same_rows_in_the_same_order_as_the_full_list(listing, sort, filters):
    filters = dict(filters)
    if filters.get("neighbourhood_ids") == "near":
        filters["neighbourhood_ids"] = [listing["hapjeong"].pk, listing["seogyo"].pk]
    # when
    paged = _all_pages(sort=sort, **filters)
    # then
    expected = [a.pk for a in auction_list(sort=sort, **filters)]
    assert paged == expected
    assert expected  # every case lists something
    assert listing["auctions"][6].pk not in paged  # hidden


def _walk(direction: str, **kwargs) -> list[list[int]]:
    """Follow the 다음 links from page 1 to the end (or, with "back", then the 이전 links back),
    as the page's links would: each link carries the page number and the cursor."""
    pages = [auction_list_page(page_size=2, **kwargs)]
    while pages[-1].has_next():
        pages.append(
            auction_list_page(page=pages[-1].next_page_number(), after=pages[-1].next_cursor, page_size=2, **kwargs)
        )
    if direction == "forward":
        return [[a.pk for a in p.object_list] for p in pages]
    back = [pages[-1]]
    while back[-1].has_previous():
        back.append(
            auction_list_page(page=back[-1].previous_page_number(), before=back[-1].prev_cursor, page_size=2, **kwargs)
            if back[-1].prev_cursor
            else auction_list_page(page=1, page_size=2, **kwargs)
        )
    return [[a.pk for a in p.object_list] for p in reversed(back)]


@pytest.mark.parametrize("sort", list(selectors.SORTS))
@pytest.mark.parametrize("filters", [{"national": False}, {"national": False, "neighbourhood_ids": "near"}])
def test_cursor_pages_walk_every_row_once_in_order_both_ways_ties_included(listing, sort, filters):
    # given ties on every sort key (equal creation times, ends and prices), the cursor must
    # fall back on the next key and finally the id
    from django.utils import timezone

    made = listing["auctions"]
    same = timezone.now()
    Auction.objects.filter(pk__in=[a.pk for a in made[:5]]).update(created_at=same)
    Auction.objects.filter(pk__in=[a.pk for a in made[3:8]]).update(
        ends_at=made[3].ends_at, start_price=1_000, current_price=11_000
    )
    filters = dict(filters)
    if filters.get("neighbourhood_ids") == "near":
        filters["neighbourhood_ids"] = [listing["hapjeong"].pk, listing["seogyo"].pk]
    expected = [a.pk for a in auction_list(sort=sort, **filters)]

    forward = _walk("forward", sort=sort, **filters)
    backward = _walk("back", sort=sort, **filters)

    assert [pk for page in forward for pk in page] == expected
    assert backward == forward  # the 이전 links give back exactly the pages the 다음 links gave
    assert len(forward) >= 3 and all(len(page) == 2 for page in forward[:-1])


def test_a_cursor_goes_past_the_offset_limit_and_a_bad_one_falls_back_to_page_one(monkeypatch):
    seller = make_user()
    for n in range(5):
        make_auction(seller=seller, title=f"물건 {n}")
    monkeypatch.setattr(selectors, "LIST_MAX_PAGES", 2)
    first = auction_list_page(national=False, page_size=1)
    ids = [first.object_list[0].pk]
    page = first
    while page.has_next():
        page = auction_list_page(national=False, page=page.number + 1, after=page.next_cursor, page_size=1)
        ids.append(page.object_list[0].pk)
    assert ids == [a.pk for a in auction_list(national=False)] and page.number == 5
    gone = auction_list_page(national=False, page=4, after=10**12, page_size=1)  # no such auction
    assert gone.number == 2 and [a.pk for a in gone.object_list] == ids[1:2]  # OFFSET, capped


def test_a_cursor_page_reads_from_the_cursor_without_offset(listing):
    page1 = auction_list_page(national=False, sort="newest", page_size=3)
    with CaptureQueriesContext(connection) as ctx:
        auction_list_page(national=False, sort="newest", page=2, after=page1.next_cursor, page_size=3)
    assert not any("OFFSET" in q["sql"].upper() for q in ctx.captured_queries)


def test_a_page_is_two_queries_without_a_count_and_carries_the_card_fields(listing, django_assert_max_num_queries):
    auction = listing["auctions"][0]
    auction_photos_add(auction_id=auction.pk, actor=auction.seller, files=[upload()])
    with CaptureQueriesContext(connection) as ctx:
        page = auction_list_page(national=False, page_size=5)
    sqls = [q["sql"].upper() for q in ctx.captured_queries]
    assert len(sqls) == 2
    assert not any("COUNT(" in sql for sql in sqls)
    assert "AUCTIONS_AUCTIONPHOTO" not in sqls[0]  # the id query computes no thumbnail for skipped rows
    assert len(page.object_list) == 5 and page.has_next() and not page.has_previous()
    with django_assert_max_num_queries(0):
        for row in page.object_list:
            assert row.title and row.neighbourhood.name and row.current_price and row.ends_at
    assert "description" in page.object_list[0].get_deferred_fields()
    thumbs = {a.pk: a.thumb for a in auction_list_page(national=False, page_size=50).object_list}
    assert thumbs[auction.pk] and sum(1 for t in thumbs.values() if t) == 1


def test_the_last_page_has_no_next_and_past_the_end_is_empty(listing):
    local = [a.pk for a in auction_list(national=False)]
    pages = -(-len(local) // 4)
    last = auction_list_page(national=False, page=pages, page_size=4)
    assert not last.has_next() and last.has_previous() and last.previous_page_number() == pages - 1
    beyond = auction_list_page(national=False, page=pages + 1, page_size=4)
    assert beyond.object_list == [] and not beyond.has_next()


def test_page_numbers_are_clamped():
    assert list_page_number(None) == 1
    assert list_page_number("abc") == 1
    assert list_page_number("-3") == 1
    assert list_page_number("7") == 7
    assert list_page_number(str(10**9)) == 100_000  # only a number to show; OFFSET stops at LIST_MAX_PAGES


def test_the_deepest_page_offers_no_next_even_when_rows_remain(monkeypatch):
    seller = make_user()
    for n in range(3):
        make_auction(seller=seller, title=f"물건 {n}")
    monkeypatch.setattr(selectors, "LIST_MAX_PAGES", 2)
    assert auction_list_page(national=False, page=1, page_size=1).has_next()
    deepest = auction_list_page(national=False, page=2, page_size=1)
    assert len(deepest.object_list) == 1 and not deepest.has_next()
    assert auction_list_page(national=False, page=3, page_size=1).number == 2


@pytest.mark.parametrize("radius", [1, 3, 6, 10, 30])
def test_the_radius_box_keeps_exactly_the_members_of_the_full_distance_table(radius):
    neighbourhood()  # the seeded 동 (the national table: every 100th of the 3,512 as an origin,
    # dense Seoul and sparse 읍·면 alike; all of them against all is 12 million distances)
    for origin in Neighbourhood.objects.order_by("pk")[::100]:
        full = {pk: km for pk, km in neighbourhood_distances(origin=origin).items() if km <= radius}
        within = neighbourhood_distances_within(origin=origin, radius_km=radius)
        assert within.keys() == full.keys()
        assert all(abs(within[pk] - full[pk]) < 1e-9 for pk in full)
        assert sorted(neighbourhood_ids_within(origin=origin, radius_km=radius)) == sorted(full)


def test_the_radius_box_is_wide_enough_at_the_circles_edge():
    """A 동 just inside the circle due east, north and diagonally, one just outside: the box
    must not cut off the inside ones (the longitude span widens away from the equator)."""
    origin = Neighbourhood.objects.create(district="테스트구", name="기준동", latitude=37.5, longitude=127.0)
    inside = [
        Neighbourhood.objects.create(district="테스트구", name="동쪽", latitude=37.5, longitude=127.0 + 0.1125),
        Neighbourhood.objects.create(district="테스트구", name="북쪽", latitude=37.5 + 0.0898, longitude=127.0),
        Neighbourhood.objects.create(
            district="테스트구", name="북동", latitude=37.5 + 0.0632, longitude=127.0 + 0.0797
        ),
    ]
    outside = Neighbourhood.objects.create(district="테스트구", name="먼동", latitude=37.5, longitude=127.0 + 0.1140)
    full = neighbourhood_distances(origin=origin)
    assert all(9.9 < full[n.pk] <= 10 for n in inside) and full[outside.pk] > 10
    within = neighbourhood_distances_within(origin=origin, radius_km=10)
    assert all(n.pk in within for n in inside) and outside.pk not in within


@pytest.mark.parametrize(
    "text",
    ["", "a", "ab", "abc", "식탁", "원목 식탁 4인용", "aaaa", "줄\n바꿈\r\n", "🙂 이모지 🙂"]
    + ["이사 가요. " * 40 + "끝"],
)
def test_the_bigram_function_gives_every_two_character_piece(text):
    """nb_bigrams (0008, linear since 0015: two regexp passes) is every two-character substring
    of its text: the GIN index and the two-character search's prefilter both rely on it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nb_bigrams(%s)", [text])
        pieces = cursor.fetchone()[0]
    assert set(pieces) == {text[i : i + 2] for i in range(len(text) - 1)}


def test_the_auction_rows_text_indexes_keep_a_short_pending_list():
    """Every accepted bid re-enters the auction row into its GIN text indexes; with GIN's default
    4 MB pending list a bid's statement merged it every few seconds (46–75 ms under the row
    lock). Migration 0016 keeps the list at 256 kB on each of them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = 'auctions_auction'::regclass AND am.amname = 'gin'"
        )
        gin = dict(cursor.fetchall())
    assert set(gin) == {"auction_title_trgm", "auction_desc_trgm", "auction_open_bigrams"}
    assert all(options == ["gin_pending_list_limit=256"] for options in gin.values()), gin


@pytest.mark.parametrize("term", ["식탁", "의자", "좋아", "tv", "Tv", "요.", "식 "])
def test_two_character_search_finds_what_a_plain_substring_match_finds(term):
    """Two-character terms go through the bigram prefilter (migration 0005) before icontains."""
    seller = make_user()
    texts = [
        ("원목 식탁", ""),
        ("의자", "식탁 옆에 두기 좋아요."),
        ("삼성 TV", "벽걸이"),
        ("소파", "거실용"),
        ("식", "탁자"),  # the two halves only across title and description: no match
        ("smart tv box", ""),
    ]
    for title, description in texts:
        make_auction(seller=seller, title=title, description=description)
    expected = sorted(t for t, d in texts if term.strip().upper() in t.upper() or term.strip().upper() in d.upper())
    # when
    found = sorted(a.title for a in auction_list(national=False, q=term))
    # then
    assert found == expected


@pytest.mark.parametrize(
    ("filters", "custom"),
    [
        ({"q": "식탁"}, True),
        ({"neighbourhood_ids": "near"}, True),
        ({}, False),
        ({"category": "furniture"}, False),
    ],
)
def test_search_and_radius_lists_are_planned_for_their_own_parameters(listing, filters, custom):
    """A prepared statement's generic plan cannot see the term or the 동 list (it picked full
    scans at 100k rows): those id queries run under plan_cache_mode = force_custom_plan."""
    if filters.get("neighbourhood_ids") == "near":
        filters = {"neighbourhood_ids": [listing["hapjeong"].pk]}
    with CaptureQueriesContext(connection) as ctx:
        auction_list_page(national=False, **filters)
    sqls = [q["sql"] for q in ctx.captured_queries]
    ids_query = next(i for i, sql in enumerate(sqls) if sql.startswith('SELECT "auctions_auction"."id" AS "pk"'))
    planned = [i for i, sql in enumerate(sqls) if "plan_cache_mode = force_custom_plan" in sql]
    assert (planned and planned[0] < ids_query) if custom else not planned
