"""The open lists' sort keys (migration 0018, issue 19): a busy auction's bids leave
Auction.sort_price / sort_bids trailing for at most SORT_KEYS_MAX_AGE, so that most bids change
no indexed column and PostgreSQL updates the row HOT (none of the table's 17 indexes is
written); the worker brings trailing keys up; every other write keeps them exact."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from auctions import selectors
from auctions.models import Auction
from auctions.services import auction_sort_keys_refresh, auction_update, bid_place
from auctions.services.bid_writes import SORT_KEYS_MAX_AGE
from auctions.worker import worker_run_once
from tests.factories import make_auction, make_user, rid

pytestmark = pytest.mark.django_db


def keys(auction: Auction) -> tuple[int, int, bool]:
    row = Auction.objects.get(pk=auction.pk)
    return row.sort_price, row.sort_bids, row.sort_stale


def age_sort_keys(auction: Auction) -> None:
    """As if the keys were last refreshed longer than SORT_KEYS_MAX_AGE ago."""
    row = Auction.objects.get(pk=auction.pk)
    Auction.objects.filter(pk=auction.pk).update(sort_at=row.sort_at - SORT_KEYS_MAX_AGE - timedelta(seconds=1))


def hot_updates() -> int:
    """Heap-only updates of the auction table in this test's transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = 'auctions_auction'")
        row = cursor.fetchone()
    return row[0] if row else 0


def test_a_new_listing_sorts_by_its_start_price():
    # when a listing is created, then its sort keys are its price and no bids
    auction = make_auction(start_price=12_000)
    assert keys(auction) == (12_000, 0, False)


def test_the_first_bid_moves_the_sort_keys_and_a_quick_second_leaves_them_for_the_worker():
    # given an auction and two bidders
    auction = make_auction(start_price=10_000, is_national=True)
    a, b = make_user(balance=100_000), make_user(balance=100_000)
    # when the first bid lands, then the keys follow it (they had never been set by a bid)
    bid_place(auction_id=auction.pk, actor=a, amount=10_000, request_id=rid())
    assert keys(auction) == (10_000, 1, False)
    # when a second bid lands within SORT_KEYS_MAX_AGE, then the keys stay and the row is marked
    bid_place(auction_id=auction.pk, actor=b, amount=11_000, request_id=rid())
    assert Auction.objects.get(pk=auction.pk).current_price == 11_000
    assert keys(auction) == (10_000, 1, True)
    # and the worker leaves keys younger than SORT_KEYS_MAX_AGE alone
    assert auction_sort_keys_refresh() == 0
    assert keys(auction) == (10_000, 1, True)
    # when they are older, then a worker pass brings them up, without a public change
    seq = Auction.objects.get(pk=auction.pk).seq
    age_sort_keys(auction)
    assert worker_run_once().resorted == 1
    assert keys(auction) == (11_000, 2, False)
    assert Auction.objects.get(pk=auction.pk).seq == seq


def test_a_bid_after_the_keys_aged_refreshes_them_itself():
    # given an auction whose keys trail its last bid, older than SORT_KEYS_MAX_AGE
    auction = make_auction(start_price=10_000, is_national=True)
    a, b, c = (make_user(balance=100_000) for _ in range(3))
    bid_place(auction_id=auction.pk, actor=a, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=b, amount=11_000, request_id=rid())
    age_sort_keys(auction)
    # when the next bid lands, then the keys follow it and nothing is left for the worker
    bid_place(auction_id=auction.pk, actor=c, amount=12_000, request_id=rid())
    assert keys(auction) == (12_000, 3, False)


def test_the_price_sort_orders_by_the_keys_and_catches_up_after_the_worker():
    # given two auctions at 10,000 and 10,500; the cheaper one then gets two quick bids
    cheap = make_auction(start_price=10_000, is_national=True)
    dear = make_auction(start_price=10_500, is_national=True)
    a, b = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=cheap.pk, actor=a, amount=10_000, request_id=rid())
    bid_place(auction_id=cheap.pk, actor=b, amount=11_000, request_id=rid())

    def by_price() -> list[int]:
        page = selectors.auction_list_page(national=True, sort="price")
        return [row.pk for row in page.object_list if row.pk in (cheap.pk, dear.pk)]

    # then within the second the list still orders it by the price it was sorted at,
    # while its card shows the live price
    assert by_price() == [cheap.pk, dear.pk]
    assert Auction.objects.get(pk=cheap.pk).current_price == 11_000
    # when the worker catches the keys up, then the order is the live one
    age_sort_keys(cheap)
    auction_sort_keys_refresh()
    assert by_price() == [dear.pk, cheap.pk]


def test_a_listing_inserted_by_code_older_than_the_keys_is_born_stale_and_gets_them():
    # given a listing as code before migration 0018 inserts it (no sort columns named)
    model = make_auction(start_price=23_000)
    columns = [f.column for f in Auction._meta.concrete_fields if f.column != "id" and not f.column.startswith("sort_")]
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO auctions_auction ({names}) SELECT {names} FROM auctions_auction WHERE id = %s RETURNING id",
            [model.pk],
        )
        old = Auction.objects.get(pk=cursor.fetchone()[0])
    # then the database's defaults mark it stale, with no keys yet
    assert (old.sort_price, old.sort_bids, old.sort_stale, old.sort_at) == (0, 0, True, None)
    # when the worker passes, then it has its keys
    worker_run_once()
    assert keys(old) == (23_000, 0, False)


def test_an_edit_of_the_price_keeps_the_keys_exact():
    # given a listing with no bids
    auction = make_auction(start_price=10_000)
    # when its seller edits the start price, then the keys follow at once
    auction_update(auction_id=auction.pk, actor=auction.seller, start_price=15_000)
    assert keys(auction) == (15_000, 0, False)


def test_quick_bids_after_the_first_trailing_one_update_the_auction_row_hot():
    # given an auction with two bids within SORT_KEYS_MAX_AGE: the second marked the row for
    # the worker (sort_stale is indexed, so that one update is not heap-only)
    auction = make_auction(start_price=10_000, is_national=True)
    a, b = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=a, amount=10_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=b, amount=11_000, request_id=rid())
    before = hot_updates()
    # when the first bidder outbids again within the second (a new price, count and leader)
    bid_place(auction_id=auction.pk, actor=a, amount=12_000, request_id=rid())
    # then PostgreSQL updated the auction's row without touching any index (heap-only)
    assert hot_updates() == before + 1
    assert keys(auction) == (10_000, 1, True)
