"""What one server process keeps per locally watched auction (realtime.hub): the newest state,
its frame, the token bucket of the coalescing, and a state fetch in flight."""

from __future__ import annotations

import asyncio


class _Feed:
    """What this process knows about one locally watched auction."""

    __slots__ = (
        "since",
        "seq",
        "text",
        "frame",
        "state",
        "sent_seq",
        "tokens",
        "tokens_at",
        "timer",
        "flushing",
        "again",
        "lagging",
        "ended_seq",
        "ended_text",
        "ended_sent",
    )

    def __init__(self, since: float, burst: float) -> None:
        self.since = since  # loop time when this process started tracking the auction
        self.seq = -1  # newest state seen
        self.text: str | None = None
        self.frame: bytes | None = None  # `text` as one WebSocket frame, built at most once
        self.state: dict | None = None
        self.sent_seq = -1  # newest state written to the sockets
        self.tokens = burst  # the auction's write budget (token bucket)
        self.tokens_at = since
        self.timer: asyncio.TimerHandle | None = None
        self.flushing = False
        self.again = False
        self.lagging = False  # some socket skipped (its previous write unsent): catch it up
        self.ended_seq = -1
        self.ended_text: str | None = None
        self.ended_sent = True


class _Fetch:
    __slots__ = ("task", "started")

    def __init__(self, task: asyncio.Task, started: float) -> None:
        self.task = task
        self.started = started
