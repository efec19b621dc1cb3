"""The per-process frame budget (issue 25 #1): past a size of audience the gap between two
states of an auction grows (watchers / budget) instead of the latency; `ended` and personal
events never wait for it."""

from __future__ import annotations

import asyncio

import pytest

from realtime.hub import Hub
from tests.realtime.test_hub import FakeSocket, publish, state


@pytest.fixture
async def small_budget(settings):
    # 40 watchers on a budget of 100 frames/s: one state per 0.4 s per auction (COALESCE_MS 50)
    settings.REALTIME = {**settings.REALTIME, "COALESCE_MS": 50, "COALESCE_BURST": 1, "FRAME_BUDGET_PER_S": 100}
    hub = Hub(asyncio.get_running_loop())
    yield hub
    await hub.aclose()


def test_the_interval_grows_with_the_audience_never_below_coalesce_ms(settings):
    settings.REALTIME = {**settings.REALTIME, "COALESCE_MS": 50, "FRAME_BUDGET_PER_S": 20_000}
    hub = Hub(asyncio.new_event_loop())
    try:
        for n, expected in [(0, 0.05), (1_000, 0.05), (5_000, 0.25), (10_000, 0.5)]:
            hub.watchers = n
            assert hub.state_interval() == pytest.approx(expected)
    finally:
        hub.loop.close()


async def test_registering_counts_each_socket_once(small_budget):
    hub = small_budget
    a, b = FakeSocket(7), FakeSocket(8)
    hub.register(a)
    hub.register(a)
    hub.register(b)
    assert hub.watchers == 2
    hub.unregister(a)
    hub.unregister(a)
    assert hub.watchers == 1


async def test_a_large_audience_gets_fewer_states_and_ends_on_the_newest(small_budget):
    hub = small_budget
    # given 40 watchers of one auction in this process (budget 100/s: a state per 0.4 s)
    socks = [FakeSocket(7) for _ in range(40)]
    for sock in socks:
        hub.register(sock)
    assert hub.state_interval() == pytest.approx(0.4)
    # when a state arrives every 10 ms for ~0.6 s
    started = hub.loop.time()
    for seq in range(1, 61):
        publish(hub, 7, state(7, seq, 100 * seq))
        await asyncio.sleep(0.01)
    elapsed = hub.loop.time() - started
    await asyncio.sleep(0.45)
    # then each watcher got the burst and then one state per 0.4 s of the time that passed
    # (not one per COALESCE_MS), in order, and the newest last
    allowed = int(1 + elapsed / 0.4) + 1
    for sock in socks:
        seqs = [f["seq"] for f in sock.frames]
        assert seqs == sorted(set(seqs)) and seqs[-1] == 60
        assert len(seqs) <= allowed, (len(seqs), allowed, elapsed)
    assert sum(len(s.frames) for s in socks) <= 40 * allowed


async def test_ended_does_not_wait_for_the_budget(small_budget):
    # (personal events do not pass through the hub at all: realtime.layer)
    hub = small_budget
    socks = [FakeSocket(7, user_id=1)] + [FakeSocket(7) for _ in range(39)]
    for sock in socks:
        hub.register(sock)
    publish(hub, 7, state(7, 1, 100))  # takes the only token
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # when the auction ends right after
    publish(hub, 7, state(7, 2, 200, status="sold"))
    publish(hub, 7, {"type": "ended", "auction_id": 7, "seq": 2, "status": "sold", "final_price": 200})
    for _ in range(10):
        await asyncio.sleep(0)
    # then, well before the 0.4 s the budget would make a state wait, all arrived
    for sock in socks:
        kinds = [(f["type"], f.get("seq")) for f in sock.frames]
        assert kinds == [("state", 1), ("state", 2), ("ended", 2)], kinds
