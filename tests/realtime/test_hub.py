"""The per-process fan-out on its own: fake sockets, events fed in as the bus would."""

from __future__ import annotations

import asyncio
import json

import pytest

from auctions.realtime.hub import Hub
from neighborbid import bus


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


async def test_states_are_coalesced_in_order_and_the_latest_always_arrives(hub):
    socks = [FakeSocket(7) for _ in range(3)]
    for sock in socks:
        hub.register(sock)
    for seq in range(1, 101):
        publish(hub, 7, state(7, seq, 10_000 + seq))
        if seq % 10 == 0:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.15)
    for sock in socks:
        seqs = [f["seq"] for f in sock.frames]
        assert seqs == sorted(set(seqs))
        assert seqs[-1] == 100 and sock.frames[-1]["current_price"] == 10_100
        # about 100 ms of events at one write per 50 ms: a handful of writes, not a hundred
        assert len(seqs) <= 6


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


async def test_personal_events_go_to_every_socket_of_that_user_only(hub):
    mine = [FakeSocket(7, user_id=1), FakeSocket(8, user_id=1)]
    other = FakeSocket(7, user_id=2)
    for sock in [*mine, other]:
        hub.register(sock)
    note = {"type": "notification", "kind": "outbid", "auction_id": 7, "message": "..."}
    hub.on_message(f"{hub.user_prefix}1", bus.encode(note))
    hub.on_message(f"{hub.user_prefix}1", bus.encode({"type": "websocket.close"}))  # not a notification
    await asyncio.sleep(0.01)
    assert [f["kind"] for s in mine for f in s.frames] == ["outbid", "outbid"]
    assert other.frames == []


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
