"""The per-process fan-out on its own: fake sockets, events fed in as the bus would."""

from __future__ import annotations

import asyncio
import json

import pytest

from neighborbid import bus
from realtime.hub import Hub


class FakeSocket:
    def __init__(self, auction_id: int, user_id: int | None = None) -> None:
        self.rt_auction_id = auction_id
        self.rt_user_id = user_id
        self.rt_last_seq = -1
        self.rt_ready = True
        self.frames: list[dict] = []

    async def base_send(self, message: dict) -> None:
        self.frames.append(json.loads(message["text"]))

    def rt_accepts_personal(self, message: dict) -> bool:
        return True


def state(auction_id: int, seq: int, price: int, status: str = "open") -> dict:
    return {"type": "state", "auction_id": auction_id, "seq": seq, "current_price": price, "status": status}


def publish(hub: Hub, auction_id: int, event: dict) -> None:
    hub.on_message(f"{hub.auction_prefix}{auction_id}".encode(), bus.encode(event).encode())


@pytest.fixture
async def hub(settings):
    settings.REALTIME = {**settings.REALTIME, "COALESCE_MS": 50}
    hub = Hub(asyncio.get_running_loop())
    yield hub
    await hub.aclose()


def writes_allowed(hub: Hub, started: float) -> int:
    """The most writes the auction's budget allows since `started` (the burst, then one per
    COALESCE_MS of the time that really passed, plus the due write), measured on the hub's own
    clock: a slow machine allows more writes, never a failure."""
    return int(hub.burst + (hub.loop.time() - started) * hub.rate) + 1


async def test_states_are_coalesced_in_order_and_the_latest_always_arrives(hub):
    socks = [FakeSocket(7) for _ in range(3)]
    for sock in socks:
        hub.register(sock)
    started = hub.loop.time()
    for seq in range(1, 101):
        publish(hub, 7, state(7, seq, 10_000 + seq))
        if seq % 10 == 0:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.15)
    allowed = writes_allowed(hub, started)
    for sock in socks:
        seqs = [f["seq"] for f in sock.frames]
        assert seqs == sorted(set(seqs))
        assert seqs[-1] == 100 and sock.frames[-1]["current_price"] == 10_100
        # 100 states over ~0.25 s at one write per 50 ms: a handful of writes, not a hundred
        assert len(seqs) <= allowed < 100, (len(seqs), allowed)


async def test_older_or_repeated_states_are_dropped(hub):
    sock = FakeSocket(7)
    hub.register(sock)
    publish(hub, 7, state(7, 5, 500))
    await asyncio.sleep(0.01)
    publish(hub, 7, state(7, 3, 300))
    publish(hub, 7, state(7, 5, 500))
    await asyncio.sleep(0.1)
    assert [f["seq"] for f in sock.frames] == [5]


async def test_ended_is_never_dropped_and_follows_the_final_state(hub):
    sock = FakeSocket(7)
    hub.register(sock)
    publish(hub, 7, state(7, 1, 100))
    publish(hub, 7, state(7, 2, 200))
    publish(hub, 7, state(7, 3, 300, status="sold"))
    publish(hub, 7, {"type": "ended", "auction_id": 7, "seq": 3, "status": "sold", "final_price": 300})
    await asyncio.sleep(0.1)
    kinds = [(f["type"], f["seq"]) for f in sock.frames]
    assert kinds[-2:] == [("state", 3), ("ended", 3)]
    assert [k for k in kinds if k[0] == "ended"] == [("ended", 3)]


async def test_unwatched_auctions_and_garbage_are_ignored(hub):
    sock = FakeSocket(7)
    hub.register(sock)
    publish(hub, 8, state(8, 1, 100))
    hub.on_message(f"{hub.auction_prefix}7", b"not json")
    hub.on_message(f"{hub.auction_prefix}x", b"{}")
    hub.on_message(f"{hub.auction_prefix}7", bus.encode({"type": "state", "seq": "1"}))
    await asyncio.sleep(0.06)
    assert sock.frames == []


async def test_a_socket_is_not_written_before_its_snapshot_and_never_backwards(hub):
    sock = FakeSocket(7)
    sock.rt_ready = False
    hub.register(sock)
    publish(hub, 7, state(7, 1, 100))
    await asyncio.sleep(0.06)
    assert sock.frames == []
    sock.rt_ready, sock.rt_last_seq = True, 4  # its snapshot was seq 4
    publish(hub, 7, state(7, 3, 300))
    await asyncio.sleep(0.06)
    assert sock.frames == []
    publish(hub, 7, state(7, 5, 500))
    await asyncio.sleep(0.06)
    assert [f["seq"] for f in sock.frames] == [5]


async def loop_turns(n: int = 3) -> None:
    """Let the event loop run a few iterations (no wall-clock wait)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_quiet_auction_gets_every_state_at_once(hub):
    # given a watched auction whose last state went out a moment ago
    sock = FakeSocket(7)
    hub.register(sock)
    publish(hub, 7, state(7, 1, 100))
    await loop_turns()
    # when the next state comes well within COALESCE_MS
    publish(hub, 7, state(7, 2, 200))
    await loop_turns()
    # then it is written at once: coalescing only starts past the auction's burst
    assert [f["seq"] for f in sock.frames] == [1, 2]


async def test_a_hot_auction_is_bounded_and_ends_on_the_newest_state(hub):
    # given a watched auction
    sock = FakeSocket(7)
    hub.register(sock)
    # when 200 states arrive back to back, one per loop iteration
    started = hub.loop.time()
    for seq in range(1, 201):
        publish(hub, 7, state(7, seq, 100 * seq))
        await asyncio.sleep(0)
    await asyncio.sleep(0.12)
    # then the socket got its burst and then about one write per COALESCE_MS, in order, the newest last
    seqs = [f["seq"] for f in sock.frames]
    assert seqs == sorted(set(seqs)) and seqs[-1] == 200
    assert len(seqs) <= writes_allowed(hub, started) < 200


async def test_a_large_flush_lets_other_work_run_before_it_is_done(hub):
    # given 450 watchers of one auction
    socks = [FakeSocket(7) for _ in range(450)]
    for sock in socks:
        hub.register(sock)
    written_when_other_work_ran = []

    async def other_work():  # an ack or a refusal of some socket, queued after the event
        written_when_other_work_ran.append(sum(len(s.frames) for s in socks))

    # when a state arrives and other work is queued right behind it
    publish(hub, 7, state(7, 1, 100))
    asyncio.get_running_loop().create_task(other_work())
    await loop_turns(10)
    # then everyone got it, and the other work did not wait for the whole flush
    assert all([f["seq"] for f in s.frames] == [1] for s in socks)
    assert written_when_other_work_ran and written_when_other_work_ran[0] < 450


async def test_every_socket_gets_the_same_text_encoded_once(hub):
    socks = [FakeSocket(7) for _ in range(3)]
    for sock in socks:
        hub.register(sock)
        sock.texts = []
        sock.base_send = lambda message, sock=sock: _record(sock, message)
        hub.register(sock)  # resolve the new send
    publish(hub, 7, state(7, 1, 100))
    await loop_turns()
    texts = [s.texts[0] for s in socks]
    assert all(t is texts[0] for t in texts)


async def _record(sock, message):
    sock.texts.append(message["text"])
