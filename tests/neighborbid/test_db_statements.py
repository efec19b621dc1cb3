"""The bid's long compare-and-set write goes through neighborbid.db.statements: its `$n` text
made once per shape and sent through psycopg's RawCursor, so psycopg does not scan it again on
every bid (its own cache skips statements over 4,096 characters or 50 parameters)."""

from __future__ import annotations

from contextlib import nullcontext

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from auctions.models import Bid
from auctions.services import bid_place
from neighborbid.db.statements import dollar_placeholders, execute_repeated
from tests.factories import make_auction, make_user, rid
from tests.money import assert_books_balance


def test_placeholders_become_numbered_in_order_and_percent_signs_stay():
    assert dollar_placeholders("SELECT %s, %s WHERE a LIKE 'x%%' AND b = %s") == (
        "SELECT $1, $2 WHERE a LIKE 'x%' AND b = $3"
    )
    with pytest.raises(ValueError, match="%b"):
        dollar_placeholders("SELECT %b")


@pytest.mark.django_db
def test_an_accepted_bid_is_written_through_the_raw_cursor():
    # given a live auction and a bidder with money
    auction = make_auction(start_price=10_000, is_national=True)
    bidder = make_user(balance=50_000)
    seen = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    # when the bidder bids
    with connection.execute_wrapper(record):
        result = bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    # then the write went out with $n placeholders (no %s left for psycopg to scan) and landed
    # (decided inside PostgreSQL: the call is the write)
    writes = [sql for sql in seen if sql.startswith(("WITH cas_auction", "SELECT * FROM nb_bid_decide("))]
    assert len(writes) == 1 and "$1" in writes[0] and "%s" not in writes[0]
    assert Bid.objects.get(pk=result.bid.pk).amount == 10_000
    assert_books_balance()


@pytest.mark.django_db
def test_while_queries_are_logged_the_write_goes_through_djangos_cursor():
    # given a live auction and a bidder
    auction = make_auction(start_price=10_000, is_national=True)
    bidder = make_user(balance=50_000)
    # when the bid runs while Django logs queries
    with CaptureQueriesContext(connection) as ctx:
        bid_place(auction_id=auction.pk, actor=bidder, amount=10_000, request_id=rid())
    # then the logged write reads with its values, as any other logged statement
    writes = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith(("WITH cas_auction", "SELECT * FROM nb_bid_decide("))
    ]
    assert len(writes) == 1 and "$1" not in writes[0] and "10000" in writes[0]


@pytest.mark.django_db
def test_a_database_error_on_the_raw_cursor_is_djangos_error():
    # given a bid already written
    auction = make_auction(start_price=10_000, is_national=True)
    bid = bid_place(auction_id=auction.pk, actor=make_user(balance=50_000), amount=10_000, request_id=rid()).bid
    # when a statement through the raw cursor breaks a constraint (the same primary key)
    with pytest.raises(IntegrityError), transaction.atomic():
        execute_repeated(
            f"INSERT INTO {Bid._meta.db_table} SELECT * FROM {Bid._meta.db_table} WHERE id = %s RETURNING id",  # noqa: S608
            [bid.pk],
        )
    # then it arrives as Django's IntegrityError (callers catch that one), and nothing changed
    assert Bid.objects.filter(auction=auction).count() == 1


def _scratch(cursor) -> None:
    cursor.execute("CREATE TABLE IF NOT EXISTS nb_one_scratch (id int PRIMARY KEY)")
    cursor.execute("TRUNCATE nb_one_scratch")


@pytest.mark.django_db(transaction=True)
def test_statements_in_one_transaction_run_in_one_transaction_and_return_each_row():
    from neighborbid.db.statements import execute_in_one_transaction

    # given autocommit (no caller's transaction)
    with connection.cursor() as cursor:
        _scratch(cursor)
    # when three statements go as one
    rows = execute_in_one_transaction(
        [
            ("INSERT INTO nb_one_scratch (id) VALUES (%s) RETURNING id, txid_current()", [1]),
            ("INSERT INTO nb_one_scratch (id) VALUES (%s) RETURNING id, txid_current()", [2]),
            ("SELECT count(*), txid_current() FROM nb_one_scratch WHERE id > %s", [0]),
        ]
    )
    # then each returned its row, all in one transaction, committed
    assert [row[0] for row in rows] == [1, 2, 2]
    assert len({row[1] for row in rows}) == 1
    assert connection.connection.info.transaction_status == 0  # idle: committed, nothing open
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM nb_one_scratch")
        assert cursor.fetchone() == (2,)
        cursor.execute("DROP TABLE nb_one_scratch")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("inside", [False, True], ids=["autocommit", "inside a transaction"])
def test_an_error_in_one_statement_undoes_them_all_and_the_connection_goes_on(inside):
    from neighborbid.db.statements import execute_in_one_transaction

    with connection.cursor() as cursor:
        _scratch(cursor)
    # given a caller's transaction that wrote a row first (or none)
    with transaction.atomic() if inside else nullcontext():
        if inside:
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO nb_one_scratch (id) VALUES (100)")
        # when the second of three statements fails (a duplicate key)
        with pytest.raises(IntegrityError):
            execute_in_one_transaction(
                [
                    ("INSERT INTO nb_one_scratch (id) VALUES (%s) RETURNING id", [1]),
                    ("INSERT INTO nb_one_scratch (id) VALUES (%s) RETURNING id", [1]),
                    ("INSERT INTO nb_one_scratch (id) VALUES (%s) RETURNING id", [3]),
                ]
            )
        # then none of the three is there, the caller's own row is, and the connection works
        with connection.cursor() as cursor:
            cursor.execute("SELECT array_agg(id ORDER BY id) FROM nb_one_scratch")
            assert cursor.fetchone() == ([100] if inside else None,)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM nb_one_scratch")
        assert cursor.fetchone() == (1 if inside else 0,)
        cursor.execute("DROP TABLE nb_one_scratch")
