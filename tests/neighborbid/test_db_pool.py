"""The pool's health check runs only for a connection that sat idle (issue 19 #2,
neighborbid/db/base.py): no empty round trip per bid, and still no dead connection handed to a
request after the server dropped it."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def checks(monkeypatch):
    """Count the empty round trips (psycopg-pool's check is `conn.execute("")`, whoever calls
    it: Django's always-check or the backend's idle check)."""
    calls = []
    real = psycopg.Connection.execute

    def counted(self, query, *args, **kwargs):
        if query == "":
            calls.append(self)
        return real(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    return calls


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_the_backend_is_pooled_with_the_idle_check():
    assert connection.settings_dict["ENGINE"] == "neighborbid.db"
    assert connection.pool is not None
    assert connection.pool._check.__qualname__.startswith("_check_if_idle")


def test_a_connection_back_from_the_pool_at_once_is_not_checked(checks):
    # given a connection that was just used and returned
    _backend_pid()
    connection.close()
    # when it is taken again at once
    checks.clear()
    _backend_pid()
    # then no empty round trip was spent on it
    assert checks == []


def test_a_connection_idle_past_the_limit_is_checked(checks):
    _backend_pid()
    connection.close()
    time.sleep(2.2)  # DB_HEALTH_CHECK_IDLE_S is 2 s by default
    checks.clear()
    _backend_pid()
    assert len(checks) >= 1


@pytest.mark.parametrize("idle", [False, True], ids=["at once", "after the idle limit"])
def test_a_connection_the_server_dropped_is_replaced_not_handed_out(idle, checks):
    # given a pooled connection, returned to the pool
    pid = _backend_pid()
    connection.close()
    # when the server terminates its session while it sits in the pool (and the session is gone)
    params = connection.get_connection_params()
    keys = {"host", "port", "user", "password", "dbname"}
    with psycopg.connect(**{k: v for k, v in params.items() if k in keys}, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 5
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    if idle:
        time.sleep(2.2)
    checks.clear()
    # then every connection the pool hands out works (cycling through all it holds, so the
    # dead one's turn comes), none is the dead session, and it was checked, not handed out
    seen = []
    for _ in range(connection.pool.get_stats()["pool_size"] + 1):
        seen.append(_backend_pid())
        connection.close()
    assert pid not in seen
    assert len(checks) >= 1
