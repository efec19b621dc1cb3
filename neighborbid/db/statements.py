"""Long hand-written statements whose shape repeats, sent without re-parsing (issue 19).

With server-side binding psycopg turns `%s` placeholders into `$n` by scanning the query text
in Python, and caches that only for statements up to 4,096 characters and 50 parameters
(psycopg._queries: ORM-generated bulk INSERTs rarely repeat). The bid's one compare-and-set
write is longer than that and comes in a handful of shapes, so every bid paid the scan: ~10 %
of a Daphne process's CPU under bench/http_bids.py (py-spy). Here the `$n` text is made once
per shape and sent through psycopg's RawCursor, which takes `$n` as written. Django's cursor
wrapper stays around it, so execute wrappers, query capture and error translation see it as
any other statement. With client-side binding (DB_SERVER_SIDE_BINDING=0), and while queries
are being logged (DEBUG, CaptureQueriesContext: Django renders the logged SQL from the `%s`
text), the statement goes through Django's usual cursor unchanged."""

from __future__ import annotations

import functools
import re
from typing import Any

from django.db import connection

_PLACEHOLDER = re.compile(r"%(.)")


@functools.lru_cache(maxsize=256)
def dollar_placeholders(sql: str) -> str:
    """`%s` → `$1`, `$2`, … in order, `%%` → `%`; anything else after a `%` is refused, as
    psycopg refuses it."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(1) == "%":
            return "%"
        if match.group(1) != "s":
            raise ValueError(f"only %s placeholders are supported here, not %{match.group(1)}")
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(replace, sql)


def execute_repeated(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """Run one statement written with `%s` placeholders on the default connection and return
    its first row (or None)."""
    if (
        connection.vendor != "postgresql"
        or not connection.settings_dict["OPTIONS"].get("server_side_binding")
        or connection.queries_logged
    ):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    from psycopg import RawCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = RawCursor(connection.connection)
    # Django's own wrapping (debug capture, execute wrappers), as connection.cursor() does it
    with connection._prepare_cursor(raw) as cursor:  # type: ignore[attr-defined]
        cursor.execute(dollar_placeholders(sql), params)
        return cursor.fetchone()
