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
from pathlib import Path

import pytest

from tests.bench.test_raw_watcher import frame, load_ws_bench, state

HANDSHAKE = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"


def stream_of_frames(base: int = 0) -> bytes:
    """The frames one watcher is sent; `base` sets its seqs and prices apart from another's."""
    return b"".join(
        [
            frame({**state(base + 5, 10_000 + base), "type": "snapshot"}),  # the snapshot
            frame(state(base + 6, 11_000 + base, pad=200)),  # a 16-bit length
            frame({"type": "ack", "request_id": "r", "seq": 99}),  # not a state: skipped
            frame(state(base + 6, 11_000 + base)),  # the same seq again: a duplicate
            frame(state(base + 7, 12_000 + base, pad=70_000)),  # a 64-bit length
            frame(state(base + 4, 9_000 + base)),  # older: a duplicate too
            frame(state(base + 8, 13_000 + base)) + frame("", opcode=9),  # and a ping, skipped
        ]
    )


def path_base(request: bytes) -> int:
    """/ws/auctions/<n>/ is sent stream_of_frames(100 * n)."""
    return 100 * int(request.split(b" ", 2)[1].rstrip(b"/").rsplit(b"/", 1)[1])


class FakeServer:
    """Accepts `count` connections; answers each handshake with `answer`, then sends the frames
    `stream(request)` gives for it in pieces of `chunk` bytes (a pause after each piece of the
    first 3,000 bytes, so the reader sees them in separate reads; with `together`, the answer
    and the frames in one piece of each other), then keeps the socket open until closed."""

    def __init__(self, *, count: int, stream, chunk: int, answer: bytes = HANDSHAKE, together: bool = False) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.count, self.stream, self.chunk, self.answer, self.together = count, stream, chunk, answer, together
        self.requests: list[bytes] = []
        self.sent = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        try:
            for _ in range(self.count):
                conn, _addr = self.listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conns.append(conn)
                request = b""
                while b"\r\n\r\n" not in request:
                    got = conn.recv(4096)
                    if not got:
                        return  # the client went away
                    request += got
                self.requests.append(request)
                if self.answer is not HANDSHAKE:
                    conn.sendall(self.answer)
                    conn.close()
                    continue
                data = self.stream(request)
                if self.together:
                    data = self.answer + data
                else:
                    conn.sendall(self.answer)
                position = 0
                while position < len(data):
                    step = self.chunk if position < 3_000 else max(self.chunk, 4_096)
                    conn.sendall(data[position : position + step])
                    position += step
                    if position < 3_000:
                        time.sleep(0.0005)
        except OSError:
            return  # closed under it (a test that failed)
        finally:
            self.sent.set()

    def drained(self) -> bool:
        """Every byte sent was read by the client (nothing queued on either side: the
        queues of /proc/net/tcp for this port's connections)."""
        port = f"{self.port:04X}"
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if port in (fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]) and fields[3] == "01":
                tx, rx = (int(v, 16) for v in fields[4].split(":"))
                if tx or rx:
                    return False
        return True

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


def stopped_by(tmp_path, server: FakeServer) -> tuple[int, str, str]:
    """One watcher against `server` until it exits by itself: its status, output and errors."""
    child = c_watcher(tmp_path, server.port, 1)
    try:
        child.wait(timeout=30)
        return child.returncode, child.stdout.read(), child.stderr.read()
    finally:
        child.kill()
        server.close()


def run_to_the_end(child: subprocess.Popen, server: FakeServer, count: int) -> tuple[str, str]:
    """Ready, go, every byte read, stop: the child's output."""
    assert child.stdout.readline() == f"ready {count}\n"
    child.stdin.write("go\n")
    child.stdin.flush()
    assert server.sent.wait(30)
    deadline = time.monotonic() + 30
    while not server.drained():
        assert time.monotonic() < deadline, "the watcher did not read what it was sent"
        time.sleep(0.01)
    return child.communicate("stop\n", timeout=30)


@pytest.mark.parametrize(("chunk", "together"), [(1, False), (3, False), (7, False), (64, False), (10_000, True)])
def test_the_c_watcher_reads_what_the_python_watcher_reads_whatever_the_reads(tmp_path, chunk, together):
    # given a server that sends three watchers their own frames in pieces of `chunk` bytes (the
    # handshake's answer and the frames in one piece with `together`)
    server = FakeServer(count=3, stream=lambda r: stream_of_frames(path_base(r)), chunk=chunk, together=together)
    started = time.time()
    child = c_watcher(tmp_path, server.port, 3)
    try:
        # when all hold their snapshot, the run starts, every frame is read, and it stops
        out, err = run_to_the_end(child, server, 3)
    finally:
        child.kill()
        server.close()
    # then each watcher, reported in the order of its targets, holds each newer state once, in
    # order, timed within the run; the two duplicates of each are counted; the newest state's
    # price is its final price; every byte (the handshake's answer included) is counted; the CPU
    # it reports is its own, since `go`
    assert child.returncode == 0, err
    watchers, stats = load_ws_bench().read_c_report(out.splitlines())
    assert [(seqs, final) for seqs, _times, final in watchers] == [
        ([b + 5, b + 6, b + 7, b + 8], 13_000 + b) for b in (0, 100, 200)
    ]
    for _seqs, times, _final in watchers:
        assert times == sorted(times) and started <= times[0] and times[-1] <= time.time()
    assert stats["duplicates"] == 6
    assert stats["bytes"] == sum(len(HANDSHAKE) + len(stream_of_frames(b)) for b in (0, 100, 200))
    assert 0 <= stats["cpu_s"] < 5
    # and the Python RawWatcher, fed the same bytes, reads the same
    ws_bench = load_ws_bench()

    async def python_reads():
        watcher = ws_bench.RawWatcher("127.0.0.1:1", "/ws/auctions/1/")
        whole = HANDSHAKE + stream_of_frames()
        for start in range(0, len(whole), chunk):
            watcher.data_received(whole[start : start + chunk])
        return watcher

    python = asyncio.run(python_reads())
    assert (python.seqs, python.duplicates, python.final_price()) == ([5, 6, 7, 8], 2, 13_000)
    # and each watcher asked for its own path, as a WebSocket client from the page's origin
    assert sorted(r.split(b" ", 2)[1] for r in server.requests) == [
        b"/ws/auctions/0/",
        b"/ws/auctions/1/",
        b"/ws/auctions/2/",
    ]
    assert all(f"Origin: http://127.0.0.1:{server.port}".encode() in r for r in server.requests)


def test_a_socket_closed_after_its_snapshot_keeps_what_it_read_and_a_close_frame_is_skipped(tmp_path):
    # given a server that sends a snapshot, a state, a close frame, and then closes the socket
    frames = frame({**state(5, 10_000), "type": "snapshot"}) + frame(state(6, 11_000)) + frame("", opcode=8)
    server = FakeServer(count=1, stream=lambda _r: frames, chunk=10_000)
    child = c_watcher(tmp_path, server.port, 1)
    try:
        assert child.stdout.readline() == "ready 1\n"
        assert server.sent.wait(30)
        deadline = time.monotonic() + 30
        while not server.drained():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # when the server closes it and the run stops
        server.close()
        time.sleep(0.2)
        out, err = child.communicate("go\nstop\n", timeout=30)
    finally:
        child.kill()
    # then the watcher reports what it read before the close
    assert child.returncode == 0, err
    watchers, stats = load_ws_bench().read_c_report(out.splitlines())
    assert [(seqs, final) for seqs, _times, final in watchers] == [([5, 6], 11_000)]
    assert stats["duplicates"] == 0


def test_the_c_watcher_refuses_a_frame_length_the_protocol_forbids(tmp_path):
    # given a server whose first frame claims a 64-bit length with its top bit set (RFC 6455)
    bogus = bytes([0x81, 127]) + b"\xff" * 8
    server = FakeServer(count=1, stream=lambda _r: bogus, chunk=10_000)
    # when it reads the frame
    returncode, out, err = stopped_by(tmp_path, server)
    # then it stops with the reason, never announcing itself ready
    assert returncode == 1 and "ready" not in out
    assert "a frame length with its top bit set" in err


def test_the_c_watcher_stops_with_the_servers_answer_when_refused(tmp_path):
    # given a server that answers the handshake with a 403
    server = FakeServer(
        count=1, stream=lambda _r: b"", chunk=1, answer=b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    )
    # when the watcher connects
    returncode, out, err = stopped_by(tmp_path, server)
    # then it exits with the server's answer, never announcing itself ready
    assert returncode == 1
    assert "ready" not in out
    assert "refused: HTTP/1.1 403 Forbidden" in err


def test_the_c_watcher_stops_when_closed_before_its_snapshot(tmp_path):
    # given a server that accepts the handshake and closes before any frame
    server = FakeServer(count=1, stream=lambda _r: b"", chunk=1)
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
