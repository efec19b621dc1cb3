"""The bench's raw watcher (bench/ws_bench.py, issue 25 #3) reads WebSocket frames without
decoding their JSON: whatever way the bytes are split across reads, it records each newer
state's seq once, counts a state that is not newer as a duplicate, skips other frames, and
keeps the newest state's bytes for the final price."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys

import pytest

from tests.realtime.servers import BASE_DIR


def load_ws_bench():
    spec = importlib.util.spec_from_file_location("ws_bench_under_test", BASE_DIR / "bench" / "ws_bench.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ws_bench_under_test"] = module
    spec.loader.exec_module(module)
    return module


def frame(payload: dict | str, opcode: int = 1) -> bytes:
    body = (payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))).encode()
    if len(body) < 126:
        head = bytes([0x80 | opcode, len(body)])
    elif len(body) < 65536:
        head = bytes([0x80 | opcode, 126]) + len(body).to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + len(body).to_bytes(8, "big")
    return head + body


def state(seq: int, price: int, pad: int = 0) -> dict:
    return {"type": "state", "seq": seq, "current_price": price, "recent_bids": ["x" * pad]}


@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 10_000])
def test_states_are_counted_once_whatever_the_reads_and_the_newest_is_kept(chunk):
    ws_bench = load_ws_bench()

    async def feed():
        watcher = ws_bench.RawWatcher("127.0.0.1:1", "/ws/auctions/1/")
        stream = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
        stream += frame(state(5, 10_000))  # the snapshot, decoded once
        stream += frame(state(6, 11_000, pad=200))  # a 16-bit length
        stream += frame({"type": "ack", "request_id": "r", "seq": 99})  # not a state: skipped
        stream += frame(state(6, 11_000))  # the same seq again: a duplicate
        stream += frame(state(7, 12_000, pad=70_000))  # a 64-bit length
        stream += frame(state(4, 9_000))  # older: a duplicate too
        stream += frame(state(8, 13_000)) + frame("", opcode=9)  # and a ping, skipped
        for start in range(0, len(stream), chunk):
            watcher.data_received(stream[start : start + chunk])
        return watcher

    watcher = asyncio.run(feed())
    assert watcher.snapshot.result()["seq"] == 5
    assert watcher.seqs == [5, 6, 7, 8] and len(watcher.times) == 4
    assert watcher.duplicates == 2
    assert watcher.final_price() == 13_000
    assert watcher.buf == bytearray()
