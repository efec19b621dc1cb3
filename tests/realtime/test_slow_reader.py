"""A deliberately slow reader on a real Daphne (issue 25 #2): a socket whose transport buffer
stays full gets fewer states, never the same state twice, and ends on the final state.

The reader is a raw TCP WebSocket client with a tiny receive buffer that stops reading while
hundreds of large states are published on the bus (through the shared test Redis, under a
prefix of this test's own), then reads everything that reached it."""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import pytest
import redis
from django.conf import settings

from tests import factories as f
from tests.realtime.servers import Daphne, free_ports, server_env

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]

PAD = "x" * 300_000  # each state ~300 KB: the kernel buffers (a few MB) fill after a dozen writes


class RawReader:
    """A WebSocket client that reads only when told to: server frames are unmasked."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n\r\n"
            ).encode()
        )
        self.buf = bytearray()
        while b"\r\n\r\n" not in self.buf:
            self._fill(10)
        end = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:end])
        del self.buf[: end + 4]
        assert head.startswith(b"HTTP/1.1 101"), head

    def _fill(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def _need(self, n: int, timeout: float) -> None:
        while len(self.buf) < n:
            self._fill(timeout)

    def frame(self, timeout: float = 10) -> dict:
        """The next text frame as JSON (pings and other control frames skipped)."""
        while True:
            opcode, payload = self._frame(timeout)
            if opcode == 1:
                return json.loads(payload)
            assert opcode in (9, 10), f"opcode {opcode}"

    def _frame(self, timeout: float) -> tuple[int, bytes]:
        self._need(2, timeout)
        length, start = self.buf[1] & 0x7F, 2
        if length == 126:
            self._need(4, timeout)
            length, start = int.from_bytes(self.buf[2:4], "big"), 4
        elif length == 127:
            self._need(10, timeout)
            length, start = int.from_bytes(self.buf[2:10], "big"), 10
        self._need(start + length, timeout)
        opcode = self.buf[0] & 0x0F
        payload = bytes(self.buf[start : start + length])
        del self.buf[: start + length]
        return opcode, payload

    def complete(self) -> bool:
        """Is a whole frame already buffered?"""
        if len(self.buf) < 2:
            return False
        length, start = self.buf[1] & 0x7F, 2
        if length == 126:
            length, start = int.from_bytes(self.buf[2:4], "big"), 4
        elif length == 127:
            length, start = int.from_bytes(self.buf[2:10], "big"), 10
        return len(self.buf) >= start + length

    def drain(self) -> None:
        """Take whatever has arrived (without waiting) into the buffer."""
        self.sock.setblocking(False)
        try:
            while chunk := self.sock.recv(1 << 20):
                self.buf += chunk
        except BlockingIOError:
            pass

    def close(self) -> None:
        self.sock.close()


def test_a_slow_reader_never_gets_a_state_twice_and_ends_on_the_final_one(tmp_path):
    auction = f.make_auction(is_national=True, start_price=10_000)
    prefix = f"{settings.BUS_PREFIX}_slow"
    port = free_ports(1, start=9200, stop=9260)[0]
    server = Daphne(port, server_env(redis_url=settings.REDIS_URL, bus_prefix=prefix), tmp_path / "daphne.log")
    client = redis.Redis.from_url(settings.REDIS_URL)
    channel = f"{prefix}:auction:{auction.pk}"
    try:
        server.start().wait()
        # given a slow reader (reads its snapshot, then nothing) and a fast one
        slow = RawReader(port, f"/ws/auctions/{auction.pk}/")
        fast = RawReader(port, f"/ws/auctions/{auction.pk}/")
        seqs = {"slow": [slow.frame()["seq"]], "fast": [fast.frame()["seq"]]}
        # when 120 large states are published while the slow reader reads nothing
        first, final = 1_000, 1_120
        for seq in range(first, final + 1):
            state = {"type": "state", "auction_id": auction.pk, "seq": seq, "status": "open", "pad": PAD}
            client.publish(channel, json.dumps(state, separators=(",", ":")))
            time.sleep(0.02)
            fast.drain()  # the fast reader keeps up
        # then, reading at last, each gets states in strictly rising order, no seq twice, the final last
        for name, reader in (("slow", slow), ("fast", fast)):
            while seqs[name][-1] != final:
                frame = reader.frame(timeout=15)
                if frame["type"] == "state":
                    seqs[name].append(frame["seq"])
            while True:  # and nothing after it (a catch-up of the same state would come here)
                try:
                    frame = reader.frame(timeout=1.0)
                except TimeoutError:
                    break
                if frame["type"] == "state":
                    seqs[name].append(frame["seq"])
            got = seqs[name]
            assert got == sorted(set(got)), f"{name} reader got a state twice or out of order: {got}"
        # and the slow reader got fewer frames than were published (it was skipped, then caught up)
        assert len(seqs["slow"]) < final - first + 1, seqs["slow"]
        slow.close()
        fast.close()
    finally:
        server.stop()
        client.close()


def test_a_large_audience_never_gets_a_state_twice_when_states_arrive_during_a_flush(tmp_path):
    # The bench's duplicate (issue 25 #2: "older state after newer: 57 after 57"): a flush
    # yields to the loop every FLUSH_YIELD_EVERY sockets (200; 5 here, so that a test-sized
    # audience has many yields); a state arriving meanwhile must not change the frame the rest
    # of that flush writes under the older seq.
    auction = f.make_auction(is_national=True, start_price=10_000)
    prefix = f"{settings.BUS_PREFIX}_crowd"
    port = free_ports(1, start=9260, stop=9299)[0]
    env = server_env(redis_url=settings.REDIS_URL, bus_prefix=prefix, REALTIME_FLUSH_YIELD_EVERY="5")
    server = Daphne(port, env, tmp_path / "daphne.log")
    client = redis.Redis.from_url(settings.REDIS_URL)
    channel = f"{prefix}:auction:{auction.pk}"
    readers: list[RawReader] = []
    try:
        server.start().wait()
        # given 200 watchers in one process
        readers = [RawReader(port, f"/ws/auctions/{auction.pk}/") for _ in range(200)]
        seqs = [[reader.frame()["seq"]] for reader in readers]
        # when 300 states arrive ~3 ms apart (many land while a flush is under way)
        first, final = 1_000, 1_300
        for seq in range(first, final + 1):
            state = {"type": "state", "auction_id": auction.pk, "seq": seq, "status": "open", "pad": "y" * 2_000}
            client.publish(channel, json.dumps(state, separators=(",", ":")))
            time.sleep(0.001)
            if seq % 20 == 0:
                for reader in readers:
                    reader.drain()
        # then every watcher got rising seqs, none twice, the final last
        for reader, got in zip(readers, seqs, strict=True):
            while got[-1] != final:
                frame = reader.frame(timeout=15)
                if frame["type"] == "state":
                    got.append(frame["seq"])
        time.sleep(0.5)  # and nothing after it (a repeat of the final state would come here)
        for reader, got in zip(readers, seqs, strict=True):
            reader.drain()
            while reader.complete():
                frame = reader.frame(timeout=1)
                if frame["type"] == "state":
                    got.append(frame["seq"])
        bad = [got for got in seqs if got != sorted(set(got))]
        assert not bad, f"{len(bad)} of {len(seqs)} watchers got a state twice, e.g. {bad[0]}"
    finally:
        for reader in readers:
            reader.close()
        server.stop()
        client.close()
