"""Timestamps load through psycopg's own loader (neighborbid/db/base.py), and give exactly what
Django's loader gives: the same instant, tzinfo `datetime.timezone.utc`, the same errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import DataError, connection
from django.db.backends.postgresql.psycopg_any import register_tzloader

from auctions.models import Auction
from tests.factories import make_auction

pytestmark = pytest.mark.django_db

VALUES = (
    "now()",
    "'2026-01-01 12:00:00+09'::timestamptz",
    "'2026-12-06 23:59:59.999999+00'::timestamptz",
    "'1999-12-31 15:00:00.5-08'::timestamptz",
    "'0001-01-01 00:00:00+00'::timestamptz",
    "'9999-12-31 23:59:59+00'::timestamptz",
    "'2024-02-29 00:00:00+14'::timestamptz",
    "NULL::timestamptz",
)
QUERY = "SELECT " + ", ".join(VALUES)


def _load(*, django_loader: bool):
    with connection.cursor() as cursor:
        if django_loader:
            register_tzloader(connection.timezone, cursor.cursor)  # what Django registers by default
        cursor.execute(QUERY)
        return cursor.fetchone()


def test_a_connection_loads_timestamps_with_psycopgs_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader.__name__ == "UtcTimestamptzLoader" and loader.timezone is UTC


def test_every_value_is_what_djangos_loader_gives():
    # given the same timestamps (far ends of the range, offsets, fractions, NULL)
    # when loaded by this backend and by Django's own loader
    ours, djangos = _load(django_loader=False), _load(django_loader=True)
    # then every value is equal and carries the same tzinfo
    assert ours == djangos
    for mine, theirs in zip(ours, djangos, strict=True):
        if theirs is not None:
            assert mine.tzinfo is theirs.tzinfo is UTC
    assert ours[1] == datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    assert ours[3] == datetime(1999, 12, 31, 23, 0, 0, 500000, tzinfo=UTC)


def test_infinity_is_refused_as_before():
    for django_loader in (False, True):
        with connection.cursor() as cursor:
            if django_loader:
                register_tzloader(connection.timezone, cursor.cursor)
            cursor.execute("SELECT 'infinity'::timestamptz")
            with pytest.raises(DataError):
                cursor.fetchone()


def test_models_read_aware_utc_datetimes():
    auction = make_auction()
    read = Auction.objects.get(pk=auction.pk)
    assert read.ends_at == auction.ends_at and read.ends_at.tzinfo is UTC
    assert Auction.objects.filter(ends_at__gt=read.ends_at - timedelta(seconds=1), pk=auction.pk).exists()
