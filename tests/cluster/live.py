"""A live-auction client as a phone or a page is: it talks to nginx, never to one server; when its
socket drops it reconnects (nginx picks a live server), takes the snapshot as its resync, and
resends an unanswered bid with the same request_id (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

NGINX_WS = "ws://127.0.0.1:18080"
ORIGIN = "http://127.0.0.1:18080"


class LiveSocket:
    def __init__(self, auction_id: int, cookie: str | None = None) -> None:
        self.auction_id, self.cookie = auction_id, cookie
        self.conn = None
        self.seq = -1
        self.price: int | None = None
        self.reconnects = 0
        self.out_of_order: list[tuple[int, int]] = []  # (seq after, seq before) on one connection
        self.states: list[tuple[float, int]] = []  # (arrival, seq) of every live state
        self._reader: asyncio.Task | None = None
        self._replies: dict[str, asyncio.Future] = {}
        self._closed = False

    async def open(self) -> LiveSocket:
        await self._connect()
        self._reader = asyncio.create_task(self._read_forever())
        return self

    async def _connect(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                headers = {"Cookie": self.cookie} if self.cookie else {}
                self.conn = await connect(
                    f"{NGINX_WS}/ws/auctions/{self.auction_id}/",
                    origin=ORIGIN,
                    additional_headers=headers,
                    open_timeout=5,
                )
                snapshot = json.loads(await asyncio.wait_for(self.conn.recv(), 5))
                assert snapshot["type"] == "snapshot", snapshot
                self._take(snapshot, fresh=True)
                return
            except (OSError, ConnectionClosed, TimeoutError, AssertionError) as exc:
                if time.monotonic() > deadline:
                    raise AssertionError(f"could not reconnect through nginx: {exc!r}") from exc
                await asyncio.sleep(0.2)

    def _take(self, frame: dict, *, fresh: bool = False) -> None:
        seq = frame["seq"]
        if not fresh and seq <= self.seq:
            self.out_of_order.append((seq, self.seq))
        if seq >= self.seq:
            self.seq, self.price = seq, frame["current_price"]

    async def _read_forever(self) -> None:
        while not self._closed:
            try:
                frame = json.loads(await self.conn.recv())
            except ConnectionClosed:
                if self._closed:
                    return
                self.reconnects += 1
                await self._connect()
                continue
            if frame["type"] == "state":
                self.states.append((time.monotonic(), frame["seq"]))
                self._take(frame)
            elif frame["type"] == "snapshot":
                self._take(frame, fresh=True)
            if frame["type"] == "ack" and frame.get("state"):
                # the bidder's own answer carries the state (no separate state frame for it); it
                # may be older than a state already shown, which is no disorder
                self._take(frame["state"], fresh=True)
            if frame["type"] in ("ack", "error") and frame.get("request_id") in self._replies:
                future = self._replies.pop(frame["request_id"])
                if not future.done():
                    future.set_result(frame)

    async def request(self, payload: dict, *, timeout: float = 30) -> dict:
        """Send; if the answer does not come on this socket (it dropped), send again with the same
        request_id on the next one."""
        deadline = time.monotonic() + timeout
        while True:
            future = asyncio.get_running_loop().create_future()
            self._replies[payload["request_id"]] = future
            conn = self.conn
            try:
                await conn.send(json.dumps(payload))
                while not future.done():
                    if self.conn is not conn or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.01)
                if future.done():
                    reply = future.result()
                    if reply["type"] == "error" and reply["code"] == "rate_limited":
                        # a person's client waits as told and sends the same bid again
                        await asyncio.sleep(float(reply.get("retry_after") or 1))
                        continue
                    return reply
            except ConnectionClosed:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer to {payload} within {timeout}s")
            while self.conn is conn and time.monotonic() < deadline:  # noqa: ASYNC110 (the reader reconnects)
                await asyncio.sleep(0.05)

    async def until(self, predicate, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                reader = self._reader
                died = repr(reader.exception()) if reader is not None and reader.done() else "running"
                raise AssertionError(
                    f"socket at seq {self.seq} price {self.price}, reconnects {self.reconnects}, reader {died}, "
                    f"last states {self.states[-5:]}, now {time.monotonic():.2f}"
                )
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.cancel()
        if self.conn is not None:
            await self.conn.close()


class Chain:
    """Bids alternating between two bidders, each at the minimum the last answer taught (so each
    outbids the other: one bid row per request). Remembers every acknowledged request id."""

    def __init__(self, bidders: list[LiveSocket]) -> None:
        self.bidders, self.amount, self.seq, self.turn = bidders, 10_000, 0, 0
        self.acked: list[str] = []

    async def bid(self, request_id: str) -> None:
        reply = await self.bidders[self.turn % 2].request(
            {"type": "bid", "amount": self.amount, "request_id": request_id}
        )
        assert reply["type"] == "ack", reply
        if not reply["duplicate"]:
            self.acked.append(request_id)
        self.turn += 1
        self.amount, self.seq = reply["state"]["min_next_bid"], reply["state"]["seq"]

    async def run(self, count: int, tag: str, each=None) -> None:
        for n in range(count):
            await self.bid(f"{tag}-{n}")
            if each is not None:
                await each(n)
