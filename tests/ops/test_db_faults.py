"""PostgreSQL sessions terminated under a running server (issue 9, item 7): the pool checks
connections out healthy, so the next pages and sockets work; what still fails is a 503 with a
Korean reason and Retry-After, never a 500, and changes nothing."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests import factories as f
from tests.money import world
from tests.realtime.servers import Daphne, free_ports, server_env, subprocess_database_url

pytestmark = pytest.mark.django_db(transaction=True)


def terminate(where: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {where}", params)
        return cursor.fetchone()[0]


def terminate_my_own_session() -> None:
    """Terminate this thread's backend from another session (as a failover would)."""
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with psycopg.connect(subprocess_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def server(tmp_path):
    app_name = f"nbtest-web-{uuid.uuid4().hex[:8]}"
    env = server_env(redis_url=settings.REDIS_URL, bus_prefix=f"{settings.BUS_PREFIX}-dbf", DB_POOL_MAX_SIZE="3")
    env["DATABASE_URL"] = f"{subprocess_database_url()}?application_name={app_name}"
    daphne = Daphne(free_ports(1, start=8301, stop=8360)[0], env, tmp_path / "daphne.log").start().wait()
    daphne.app_name = app_name
    try:
        yield daphne
    finally:
        daphne.stop()


@pytest.mark.multiprocess
def test_pages_and_sockets_work_right_after_the_servers_sessions_were_terminated(server):
    # given: a serving process with warm pooled connections
    local = f.make_auction(title="식탁")
    national = f.make_auction(is_national=True, title="한정판 운동화")
    pages = [server.url + "/", f"{server.url}/auctions/{local.pk}/", f"{server.url}/auctions/{national.pk}/"]
    assert [get(url) for url in pages * 2] == [200] * 6

    # when: PostgreSQL terminates every session of that process (a failover, a restart)
    assert terminate("application_name = %s", [server.app_name]) >= 1

    # then: the very next pages are served (no 500), and a socket gets its snapshot (no server_error)
    assert [get(url) for url in pages * 3] == [200] * 9

    async def first_frame():
        from websockets.asyncio.client import connect

        async with connect(server.ws_url(f"/ws/auctions/{national.pk}/"), origin=server.url, open_timeout=10) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    assert terminate("application_name = %s", [server.app_name]) >= 1
    frame = asyncio.run(first_frame())
    assert frame["type"] == "snapshot" and frame["auction_id"] == national.pk, frame
    assert "Traceback" not in server.log()


def test_a_request_whose_connection_is_gone_gets_a_korean_503_with_retry_after_not_a_500():
    # given: a page whose database connection the server has just terminated
    f.make_auction()
    client = Client(raise_request_exception=False)
    assert client.get("/").status_code == 200
    terminate_my_own_session()
    try:
        # when
        response = client.get("/")
    finally:
        connection.close()
    # then
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "잠시 후 다시 시도해 주세요" in body and "데이터베이스" in body


def test_a_bid_whose_connection_is_gone_is_a_503_and_changes_nothing():
    # given: a signed-in bidder on an open auction
    auction = f.make_auction(start_price=10_000)
    bidder = f.make_user(balance=50_000)
    client = Client(raise_request_exception=False)
    client.force_login(bidder)
    before = world()
    terminate_my_own_session()
    try:
        # when: the bid arrives on the dead connection (the session lookup fails first)
        response = client.post(
            f"/auctions/{auction.pk}/bid/",
            {"amount": "10000", "request_id": f.rid()},
            HTTP_ACCEPT="application/json",
        )
    finally:
        connection.close()
    # then: a 503 that says why, and nothing changed
    assert response.status_code == 503, response.content[:300]
    assert response["Retry-After"]
    assert response.json()["error"]["code"] == "unavailable"
    assert world() == before


def test_an_idempotent_read_is_retried_once_on_a_fresh_connection():
    # given: the hub's state read, on a connection the server has just terminated
    from neighborbid.dbretry import read_with_retry
    from realtime.hub import load_public_state

    auction = f.make_auction(is_national=True)
    terminate_my_own_session()
    # when
    state = read_with_retry(load_public_state, auction.pk)
    # then: the read was repeated once on a healthy connection
    assert state["auction_id"] == auction.pk and state["status"] == "open"
