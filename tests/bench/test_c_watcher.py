"""The bench's watcher load in C (bench/watcher.c, issue 25 #3), against a real socket: it reads
what ws_bench.py's RawWatcher reads (each newer state's seq once, a state not newer counted as a
duplicate, other frames skipped, the newest state's price at the end) however the bytes are split
across reads, reports its own CPU, and refuses a server that refuses it with a clear error."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time

import pytest

from tests.bench.test_raw_watcher import frame, load_ws_bench, state

HANDSHAKE = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"


def stream_of_frames() -> bytes:
    return b"".join(
        [
            frame({**state(5, 10_000), "type": "snapshot"}),  # the snapshot
            frame(state(6, 11_000, pad=200)),  # a 16-bit length
            frame({"type": "ack", "request_id": "r", "seq": 99}),  # not a state: skipped
            frame(state(6, 11_000)),  # the same seq again: a duplicate
            frame(state(7, 12_000, pad=70_000)),  # a 64-bit length
            frame(state(4, 9_000)),  # older: a duplicate too
            frame(state(8, 13_000)) + frame("", opcode=9),  # and a ping, skipped
        ]
    )


class FakeServer:
    """Accepts `count` connections; answers each handshake with `answer`, then sends `stream`
    in pieces of `chunk` bytes (a pause after each of the first 3,000 bytes' pieces, so the
    reader sees them in separate reads), and keeps the socket open until closed."""

    def __init__(self, *, count: int, stream: bytes, chunk: int, answer: bytes = HANDSHAKE) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.count, self.stream, self.chunk, self.answer = count, stream, chunk, answer
        self.requests: list[bytes] = []
        self.sent = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        for _ in range(self.count):
            conn, _addr = self.listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conns.append(conn)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            self.requests.append(request)
            conn.sendall(self.answer)
            if self.answer is not HANDSHAKE:
                conn.close()
                continue
            position = 0
            while position < len(self.stream):
                step = self.chunk if position < 3_000 else max(self.chunk, 4_096)
                conn.sendall(self.stream[position : position + step])
                position += step
                if position < 3_000:
                    time.sleep(0.0005)
        self.sent.set()

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.listener.close()


def c_watcher(tmp_path, port: int, count: int) -> subprocess.Popen:
    binary = load_ws_bench().watcher_binary()
    assert binary is not None, "bench/watcher.c does not build here (cc): the watcher load needs it"
    targets = tmp_path / "targets"
    targets.write_text("".join(f"{port} /ws/auctions/{n}/\n" for n in range(count)))
    return subprocess.Popen(
        [str(binary), "127.0.0.1", str(targets)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 10_000])
def test_the_c_watcher_reads_what_the_python_watcher_reads_whatever_the_reads(tmp_path, chunk):
    # given a server that sends two watchers the same frames in pieces of `chunk` bytes
    stream = stream_of_frames()
    server = FakeServer(count=2, stream=stream, chunk=chunk)
    started = time.time()
    child = c_watcher(tmp_path, server.port, 2)
    try:
        # when both hold their snapshot, the run starts, every frame is in, and it stops
        assert child.stdout.readline() == "ready 2\n"
        child.stdin.write("go\n")
        child.stdin.flush()
        assert server.sent.wait(30)
        time.sleep(0.3)
        out, err = child.communicate("stop\n", timeout=30)
    finally:
        child.kill()
        server.close()
    # then each watcher holds each newer state once, in order, timed within the run; the two
    # duplicates of each are counted; the newest state's price is its final price; every byte
    # (the handshake's answer included) is counted; the CPU it reports is its own, since `go`
    assert child.returncode == 0, err
    watchers, stats = load_ws_bench().read_c_report(out.splitlines())
    assert [(seqs, final) for seqs, _times, final in watchers] == [([5, 6, 7, 8], 13_000)] * 2
    for _seqs, times, _final in watchers:
        assert times == sorted(times) and started <= times[0] and times[-1] <= time.time()
    assert stats["duplicates"] == 4
    assert stats["bytes"] == 2 * (len(HANDSHAKE) + len(stream))
    assert 0 <= stats["cpu_s"] < 5
    # and the Python RawWatcher, fed the same bytes, reads the same
    ws_bench = load_ws_bench()

    async def python_reads():
        watcher = ws_bench.RawWatcher("127.0.0.1:1", "/ws/auctions/1/")
        whole = HANDSHAKE + stream
        for start in range(0, len(whole), chunk):
            watcher.data_received(whole[start : start + chunk])
        return watcher

    python = asyncio.run(python_reads())
    assert (python.seqs, python.duplicates, python.final_price()) == ([5, 6, 7, 8], 2, 13_000)
    # and each watcher asked for its own path, as a WebSocket client from the page's origin
    assert sorted(r.split(b" ", 2)[1] for r in server.requests) == [b"/ws/auctions/0/", b"/ws/auctions/1/"]
    assert all(f"Origin: http://127.0.0.1:{server.port}".encode() in r for r in server.requests)


def test_the_c_watcher_stops_with_the_servers_answer_when_refused(tmp_path):
    # given a server that answers the handshake with a 403
    server = FakeServer(count=1, stream=b"", chunk=1, answer=b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    child = c_watcher(tmp_path, server.port, 1)
    try:
        # when the watcher connects
        child.wait(timeout=30)
        out, err = child.stdout.read(), child.stderr.read()
    finally:
        child.kill()
        server.close()
    # then it exits with the server's answer, never announcing itself ready
    assert child.returncode == 1
    assert "ready" not in out
    assert "refused: HTTP/1.1 403 Forbidden" in err


def test_the_c_watcher_stops_when_closed_before_its_snapshot(tmp_path):
    # given a server that accepts the handshake and closes before any frame
    server = FakeServer(count=1, stream=b"", chunk=1)
    child = c_watcher(tmp_path, server.port, 1)
    try:
        assert server.sent.wait(30)
        server.close()
        # when the socket closes
        child.wait(timeout=30)
        out, err = child.stdout.read(), child.stderr.read()
    finally:
        child.kill()
    # then it says so and exits
    assert child.returncode == 1 and "ready" not in out
    assert "closed before the snapshot: /ws/auctions/0/" in err
