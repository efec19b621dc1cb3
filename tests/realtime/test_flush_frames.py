"""A flush that yields to the loop writes the same frame to the sockets after the yield as
before it (issue 25 #2): the bench's "older state after newer: 57 after 57"."""

from __future__ import annotations

import asyncio
import json

import pytest

from realtime.hub import Hub
from realtime.wire import _Out
from tests.realtime.test_hub import FakeSocket, publish, state


class FakeTransport:
    """What write_frame reads of a Twisted transport: nothing buffered, so each frame is
    written at once (not a tcp.Connection: through write())."""

    def __init__(self) -> None:
        self.dataBuffer, self.offset, self._tempDataLen = b"", 0, 0
        self.disconnecting, self.connected = False, True
        self.frames: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.frames.append(data)


class FakeProto:
    STATE_OPEN = 1

    def __init__(self) -> None:
        self.state = self.STATE_OPEN
        self.send_queue: list = []
        self._perMessageCompress = None
        self.transport = FakeTransport()

    def seqs(self) -> list[int]:
        # an unmasked text frame: 2-byte header, 4 with a 16-bit length
        out = []
        for frame in self.transport.frames:
            start = 4 if frame[1] & 0x7F == 126 else 2
            out.append(json.loads(frame[start:])["seq"])
        return out


@pytest.fixture
async def hub(settings):
    settings.REALTIME = {**settings.REALTIME, "COALESCE_MS": 50, "FLUSH_YIELD_EVERY": 5}
    hub = Hub(asyncio.get_running_loop())
    yield hub
    await hub.aclose()


async def test_a_state_arriving_during_a_flush_does_not_change_what_the_flush_writes(hub):
    # given 20 watchers written to as under Daphne (one prepared frame for all)
    socks = [FakeSocket(7) for _ in range(20)]
    protos = []
    for sock in socks:
        hub.register(sock)
        proto = FakeProto()
        sock._rt_out = _Out(sock.base_send, proto)
        protos.append(proto)
    # when state 1 is being flushed (it yields after every 5 sockets) and state 2 arrives
    publish(hub, 7, state(7, 1, 100))
    await asyncio.sleep(0)  # the flush task starts, writes 5 sockets, yields
    await asyncio.sleep(0)
    publish(hub, 7, state(7, 2, 200))
    await asyncio.sleep(0.2)
    # then every socket got 1 and then 2, each once
    got = [proto.seqs() for proto in protos]
    assert all(seqs == [1, 2] for seqs in got), got
