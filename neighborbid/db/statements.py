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
    rows = _execute(sql, params, every=False)
    return rows[0] if rows else None


def execute_repeated_rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """execute_repeated, returning every row."""
    return _execute(sql, params, every=True)


def _execute(sql: str, params: list[Any], *, every: bool) -> list[tuple[Any, ...]]:
    if (
        connection.vendor != "postgresql"
        or not connection.settings_dict["OPTIONS"].get("server_side_binding")
        or connection.queries_logged
    ):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return _fetch(cursor, every=every)
    from psycopg import RawCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = RawCursor(connection.connection)
    # Django's own wrapping (debug capture, execute wrappers), as connection.cursor() does it
    with connection._prepare_cursor(raw) as cursor:  # type: ignore[attr-defined]
        cursor.execute(dollar_placeholders(sql), params)
        return _fetch(cursor, every=every)


def _fetch(cursor: Any, *, every: bool) -> list[tuple[Any, ...]]:
    if every:
        return list(cursor.fetchall())
    row = cursor.fetchone()
    return [row] if row is not None else []


def pipeline_ready() -> bool:
    """Can execute_in_one_transaction run here: PostgreSQL with server-side binding (the
    default) and no query log (DEBUG's capture reads each result as it runs)."""
    return (
        connection.vendor == "postgresql"
        and bool(connection.settings_dict["OPTIONS"].get("server_side_binding"))
        and not connection.queries_logged
    )


def execute_in_one_transaction(statements: list[tuple[str, list[Any]]]) -> list[tuple[Any, ...] | None]:
    """Run statements written with `%s` placeholders as ONE transaction sent in one go:
    `BEGIN`, each statement, `COMMIT`, on psycopg's pipeline, so the server runs them back to
    back and a row lock one of them takes is held until the COMMIT with no client round trip in
    between. Inside a caller's transaction the same with a savepoint (the caller commits).
    Returns each statement's first row, in order. An error in a statement or at the COMMIT
    undoes them all (the transaction or the savepoint is rolled back) and is raised as Django's
    error, like any query's; so is a connection lost on the way, when what the server did is
    unknown (callers whose statements are idempotent, as the bids', read again, or answer with
    the error and leave the reading again to the client's retry, as a line of bids does:
    bid_batch.line_stops). Only where pipeline_ready()."""
    from psycopg import RawCursor
    from psycopg.pq import TransactionStatus

    if not pipeline_ready():
        raise RuntimeError("execute_in_one_transaction needs PostgreSQL with server-side binding")
    inner = connection.in_atomic_block
    if inner:
        connection.validate_no_broken_transaction()
    elif not connection.get_autocommit():  # BEGIN/COMMIT here would commit a caller's work
        raise RuntimeError("execute_in_one_transaction outside atomic() needs autocommit")
    opening, closing = ("SAVEPOINT nb_one", "RELEASE SAVEPOINT nb_one") if inner else ("BEGIN", "COMMIT")
    connection.ensure_connection()
    pg = connection.connection
    sent = [(dollar_placeholders(sql), params) for sql, params in statements]
    done = False
    try:
        with connection.wrap_database_errors, pg.pipeline():
            pg.execute(opening)
            cursors = []
            for sql, params in sent:
                # Django's own wrapping (debug capture, execute wrappers), as execute_repeated
                cursor = connection._prepare_cursor(RawCursor(pg))  # type: ignore[attr-defined]
                cursor.execute(sql, params)
                cursors.append(cursor)
            pg.execute(closing)
            rows = [cursor.fetchone() for cursor in cursors]
        for cursor in cursors:
            cursor.close()
        done = True
        return rows
    finally:
        if not done:
            with connection.wrap_database_errors:
                if inner:
                    pg.execute("ROLLBACK TO SAVEPOINT nb_one")
                    pg.execute("RELEASE SAVEPOINT nb_one")
                elif pg.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                    pg.execute("ROLLBACK")
