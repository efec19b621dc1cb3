"""Helpers for the live-auction tests: sockets through the real ASGI stack (Origin check,
session cookie, auth, router, consumer) with channels' WebsocketCommunicator."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

ORIGIN = b"http://testserver"


@database_sync_to_async
def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def session_cookie(user) -> str:
    client = await logged_in_client(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def open_socket(
    auction_id: int, *, user=None, origin: bytes | None = ORIGIN, path: str | None = None, client: Client | None = None
):
    """A connected socket and its first frame (the snapshot), or (communicator, close frame).
    With `client` (a logged-in test client) the socket shares that client's session."""
    from neighborbid.asgi import application

    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin))
    if client is not None:
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        user = True
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    elif user is not None:
        cookie = await session_cookie(user)
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path or f"/ws/auctions/{auction_id}/", headers=headers)
    communicator.session_cookie = cookie if user is not None else None
    connected, _ = await communicator.connect(timeout=5)
    assert connected, "handshake refused"
    return communicator, await communicator.receive_json_from(timeout=5)


async def receive_until(communicator, predicate, *, timeout: float = 3.0) -> list[dict]:
    """Frames up to and including the first one that matches."""
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        frames.append(frame)
        if predicate(frame):
            return frames


async def eventually(predicate, *, seconds: float = 5.0) -> None:
    """Wait until `predicate()` holds (checked every 20 ms); fail after `seconds`."""
    for _ in range(int(seconds / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def receive_all(communicator, types: set[str], *, timeout: float = 3.0) -> list[dict]:
    """Frames until at least one of each type has come (in whatever order)."""
    frames, missing = [], set(types)
    while missing:
        frame = await communicator.receive_json_from(timeout=timeout)
        frames.append(frame)
        missing.discard(frame["type"])
    return frames


@pytest.fixture(autouse=True)
async def _realtime_cleanup():
    """Each test has its own event loop: stop that loop's hub and rate-limit client after it."""
    yield
    from neighborbid import ratelimit
    from realtime.hub import close_hub

    await close_hub()
    for client in list(ratelimit._async_clients.values()):
        try:
            await client.aclose()
        except Exception:
            pass
    ratelimit._async_clients.clear()


@pytest.fixture(autouse=True, scope="session")
def _close_db_pool_at_end(django_db_setup):
    """The psycopg pool is shared by every thread (database_sync_to_async runs on its own):
    close it before pytest-django drops the test database."""
    yield
    from django.db import connections

    from realtime import consumers

    # Threads that ran database work keep their own Django connection: close them there.
    if consumers._money_executor is not None:
        for future in [consumers._money_executor.submit(connections.close_all) for _ in range(8)]:
            future.result()
        consumers._money_executor.shutdown(wait=True)
        consumers._money_executor = None
    from asgiref.sync import async_to_sync, sync_to_async

    async_to_sync(sync_to_async(connections.close_all, thread_sensitive=True))()
    for connection in connections.all():
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


async def frames_until_marker(auction_id: int, *sockets) -> list[list[dict]]:
    """Instead of "nothing arrived within 0.2 s" (which passes on a slow machine whatever is in
    flight): place a marker bid through the real path (database → bus → hub → socket) and read
    each socket up to the marker's state. A socket's frames come in the order the events were
    published, so anything sent before the marker is among the frames returned; the caller
    asserts there is nothing it should not see. Returns each socket's frames, marker last."""
    import uuid

    from auctions.models import Auction
    from auctions.selectors import auction_min_next_bid
    from auctions.services import bid_place
    from tests import factories as f

    @database_sync_to_async
    def marker_bid() -> int:
        auction = Auction.objects.get(pk=auction_id)
        bidder = f.make_user(balance=100_000_000, nickname="표식")
        result = bid_place(
            auction_id=auction_id, actor=bidder, amount=auction_min_next_bid(auction), request_id=uuid.uuid4().hex
        )
        return result.state["seq"]

    seq = await marker_bid()
    seen = []
    for ws in sockets:
        frames = []
        while True:
            frame = await ws.receive_json_from(timeout=5)
            frames.append(frame)
            if frame.get("type") == "state" and frame.get("seq") == seq:
                break
        seen.append(frames)
    return seen


async def two_bidders_on_one_auction(*, start_price: int = 10_000, balance: int = 100_000):
    """A national auction and two funded bidders, each with a socket on it:
    (auction, (first, ws_first), (second, ws_second))."""
    from tests import factories as f

    auction = await database_sync_to_async(f.make_auction)(is_national=True, start_price=start_price)
    first = await database_sync_to_async(f.make_user)(balance=balance)
    second = await database_sync_to_async(f.make_user)(balance=balance)
    ws_first, _ = await open_socket(auction.pk, user=first)
    ws_second, _ = await open_socket(auction.pk, user=second)
    return auction, (first, ws_first), (second, ws_second)


@contextmanager
def auction_row_held(auction_id: int) -> Iterator[None]:
    """The auction's row locked by another session (FOR UPDATE) until the block ends, so a bid's
    write waits inside the service meanwhile."""
    import psycopg

    from auctions.models import Auction
    from tests.realtime.servers import subprocess_database_url

    holder = psycopg.connect(subprocess_database_url())
    try:
        holder.execute(f"SELECT 1 FROM {Auction._meta.db_table} WHERE id = %s FOR UPDATE", [auction_id])  # noqa: S608
        yield
    finally:
        holder.rollback()
        holder.close()
