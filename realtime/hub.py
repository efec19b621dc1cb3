"""The per-process fan-out: one bus subscription per server process, a registry of the local
sockets per auction and per user, and per-auction coalescing of `state` messages.

Why not the Channels layer: channels-redis's core layer reads the whole group on every
group_send and delivers through a channel per socket, with a thread hop and a JSON encode per
recipient. Here every committed event reaches a process once (one Redis pattern
subscription), is parsed once, and the same text is written to every local socket. See
docs/realtime.md for the measurements and the rules:

- `state` messages go out at once (the next loop iteration) unless the auction is hot or the
  socket is behind: each auction has a token bucket of 1000 / REALTIME["COALESCE_MS"] writes
  per second (burst REALTIME["COALESCE_BURST"]); past it the newest state goes out when the next
  token is due. A socket whose previous write is still unsent (the kernel did not take it)
  is skipped and caught up with the newest state a moment later. Always the newest state
  (highest `seq`), never an older one after a newer one.
- every event is encoded once, and under Daphne framed once: the same WebSocket frame bytes
  go straight to every socket's transport, past Channels' per-message session wrapper and
  autobahn's per-copy framing; a big flush yields to the loop every FLUSH_YIELD_EVERY sockets
  so acks and refusals never wait behind it.
- `ended` is never coalesced away: it goes out right after the pending state.
- personal events (`notification`) go to the user's sockets at once.
- when the subscription drops (Redis down or restarted) it reconnects with backoff and then
  reloads the state of every locally watched auction from the database, so sockets catch up
  without anyone restarting anything. Money never waits for any of this.

Everything here runs on the server process's event loop; the only thread-crossing entry is
the local bus listener (no REDIS_URL), which hops onto the loop with call_soon_threadsafe.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, cast

from channels.db import database_sync_to_async
from django.conf import settings

from auctions.events import ended_event as ended_from_state  # noqa: F401  (the one builder)
from auctions.models import Auction
from neighborbid import bus
from neighborbid.dbretry import retrying
from realtime.config import realtime_setting
from realtime.feeds import _Feed, _Fetch
from realtime.subscription import BusSubscriber
from realtime.wire import _CLOSED, _PENDING, _SENT, _Text, resolve_out, write_all, write_frame, ws_frame  # noqa: F401

if TYPE_CHECKING:
    from auctions.selectors import PublicState

logger = logging.getLogger("neighborbid.realtime")

ENDED_STATUSES = tuple(str(status) for status in Auction.ENDED_STATUSES)
BIGINT_MAX = 2**63 - 1


def load_public_state(auction_id: int) -> PublicState | None:
    """The auction's public state read from the database (None: unknown or hidden).

    One row, one source: the recent bids are the row's own cache (`recent_bids`, written under
    the auction's lock together with `seq`, names masked as they were at bid time), exactly as
    the `state` message of that seq carried them. Reading them from the Bid table instead
    would give one seq two payloads after a bidder renames themselves (issue 9 #13)."""
    from auctions.models import Auction
    from auctions.selectors import auction_public_state

    if not (0 < auction_id <= BIGINT_MAX):
        return None
    auction = Auction.objects.select_related("leader").filter(pk=auction_id).first()
    if auction is None or auction.is_hidden:
        return None
    return auction_public_state(auction)


FLUSH_YIELD_EVERY = 200  # sockets written between two yields to the event loop


class Hub(BusSubscriber):
    """One per event loop (per server process). Sockets are objects with the attributes
    `rt_auction_id`, `rt_user_id`, `rt_last_seq`, `rt_ready` and an ASGI `base_send`."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.interval = realtime_setting("COALESCE_MS", 50) / 1000.0
        self.rate = 1.0 / self.interval if self.interval > 0 else float("inf")  # writes/s once hot
        self.burst = float(max(1, realtime_setting("COALESCE_BURST", 3)))
        # The process's frame budget (issue 25): the state writes per second this process may
        # make to all its auction sockets together. Each auction's gap between states grows
        # with the process's audience: max(COALESCE_MS, watchers / budget).
        self.frame_budget = float(realtime_setting("FRAME_BUDGET_PER_S", 20_000))
        self.watchers = 0  # registered auction sockets in this process
        self.yield_every = max(1, int(realtime_setting("FLUSH_YIELD_EVERY", FLUSH_YIELD_EVERY)))
        prefix = bus.channel_prefix()
        self.auction_prefix = f"{prefix}:auction:"
        self.sockets: dict[int, set] = {}
        self.chat_users: dict[int, set] = {}  # chat sockets by user (chat.consumers)
        self.feeds: dict[int, _Feed] = {}
        self._fetches: dict[int, _Fetch] = {}
        self.connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._listener: bus.Listener | None = None
        self._closed = False
        self._refresh_task: asyncio.Task | None = None
        self._started_at: float | None = None
        self._subscribes = 0  # successful bus subscriptions so far

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._closed or self._task is not None or self._listener is not None:
            return
        if settings.REDIS_URL:
            self._task = self.loop.create_task(self._subscribe_forever(), name="realtime-hub-subscriber")
        else:
            self._listener = self._local_listener
            bus.add_local_listener(self._listener)
            self.connected.set()

    async def ready(self, timeout: float = 1.0) -> bool:  # noqa: ASYNC109 (a bounded wait, wait_for inside)
        """Start if needed and wait (bounded) until the subscription is live. Only the first
        sockets of a process wait; while Redis is down nobody does (the hub catches up and
        reloads the watched auctions when it is back)."""
        if self._started_at is None:
            self._started_at = self.loop.time()
        self.start()
        if self.connected.is_set():
            return True
        remaining = self._started_at + timeout - self.loop.time()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(self.connected.wait(), remaining)
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        self._closed = True
        if self._listener is not None:
            bus.remove_local_listener(self._listener)
            self._listener = None
        for task in (self._task, self._refresh_task):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception) as exc:
                    logger.debug("realtime hub task ended: %r", exc)
        for feed in self.feeds.values():
            if feed.timer is not None:
                feed.timer.cancel()
        for fetch in self._fetches.values():
            if not fetch.task.done():
                fetch.task.cancel()
        self.connected.clear()

    # --- registry ----------------------------------------------------------------------

    def register(self, sock) -> None:
        aid = sock.rt_auction_id
        group = self.sockets.setdefault(aid, set())
        if sock not in group:
            group.add(sock)
            self.watchers += 1
        sock._rt_out = resolve_out(sock)
        if aid not in self.feeds:
            self.feeds[aid] = _Feed(since=self.loop.time(), burst=self.burst)

    def unregister(self, sock) -> None:
        aid = sock.rt_auction_id
        group = self.sockets.get(aid)
        if group is not None:
            if sock in group:
                group.discard(sock)
                self.watchers -= 1
            if not group:
                del self.sockets[aid]
                feed = self.feeds.pop(aid, None)
                if feed is not None and feed.timer is not None:
                    feed.timer.cancel()
                self._fetches.pop(aid, None)

    # --- chat sockets (chat.consumers.ChatConsumer) ------------------------------------------------
    # Chat events come through the Channels layer (realtime.layer); the hub only knows the chat
    # sockets to tell them to resync when its own Redis subscription was lost and is back
    # (whatever was published meanwhile, on the layer too, is lost): `rt_chat_resync()`.

    def chat_register(self, sock) -> None:
        self.chat_users.setdefault(sock.rt_user_id, set()).add(sock)

    def chat_unregister(self, sock) -> None:
        mine = self.chat_users.get(sock.rt_user_id)
        if mine is not None:
            mine.discard(sock)
            if not mine:
                del self.chat_users[sock.rt_user_id]

    def _chat_resync_all(self) -> None:
        for group in list(self.chat_users.values()):
            for sock in list(group):
                sock.rt_chat_resync()

    def latest_state(self, auction_id: int) -> dict | None:
        """The newest committed state this process holds for a watched auction (or None)."""
        feed = self.feeds.get(auction_id)
        return feed.state if feed is not None else None

    def connection_count(self) -> int:
        return sum(len(group) for group in self.sockets.values())

    # --- reading states (single flight per auction) ----------------------------------------

    async def fetch_state(self, auction_id: int, *, not_before: float) -> dict | None:
        """The auction's public state from a database read that started at or after
        `not_before` (loop time). Callers share reads: a read in flight that started late
        enough is joined; one that started too early is awaited and then one new read serves
        everyone who waited. So a reconnect storm or a burst of syncs from a thousand sockets
        costs one or two queries per auction, never one per socket, and nobody gets a state
        read before they asked."""
        while True:
            entry = self._fetches.get(auction_id)
            if entry is not None and entry.started >= not_before:
                return await asyncio.shield(entry.task)
            if entry is not None and not entry.task.done():
                await asyncio.wait([entry.task])
                continue
            task = self.loop.create_task(database_sync_to_async(retrying(load_public_state))(auction_id))
            self._fetches[auction_id] = _Fetch(task, self.loop.time())
            if auction_id not in self.feeds:
                task.add_done_callback(functools.partial(self._forget_fetch, auction_id))
            return await asyncio.shield(task)

    def _forget_fetch(self, auction_id: int, task: asyncio.Task) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: an error reaches the awaiting callers, not the log
        entry = self._fetches.get(auction_id)
        if entry is not None and entry.task is task and auction_id not in self.feeds:
            # kept a moment so a burst of connects to one auction shares the read
            self.loop.call_later(1.0, self._drop_fetch, auction_id, task)

    def _drop_fetch(self, auction_id: int, task: asyncio.Task) -> None:
        entry = self._fetches.get(auction_id)
        if entry is not None and entry.task is task and auction_id not in self.feeds:
            del self._fetches[auction_id]

    async def snapshot_state(self, auction_id: int, *, fresh: bool) -> dict | None:
        """The newest state for a registered socket's snapshot: a database read that started
        after this process began tracking the auction (`fresh`: after this call), or the
        newest state heard on the bus since, whichever is newer. A newer database state is
        also offered to the other local sockets (it heals a lost event for everyone here)."""
        feed = self.feeds.get(auction_id)
        now = self.loop.time()
        not_before = now if fresh or feed is None else feed.since
        state = await self.fetch_state(auction_id, not_before=not_before)
        if state is None:
            return None
        feed = self.feeds.get(auction_id)
        if feed is not None:
            if feed.state is not None and feed.seq > state["seq"]:
                return feed.state
            self.offer_state(auction_id, state)
        return state

    def offer_state(self, auction_id: int, state: dict) -> None:
        feed = self.feeds.get(auction_id)
        if feed is None or state["seq"] <= feed.seq:
            return
        previous = feed.state
        self._on_auction_event(auction_id, state, bus.encode(state))
        if state["status"] in ENDED_STATUSES and feed.ended_seq < 0 and (previous is not None):
            if previous["status"] not in ENDED_STATUSES:
                ended = dict(ended_from_state(cast("PublicState", state)))  # a state as decoded from the bus
                self._on_auction_event(auction_id, ended, bus.encode(ended))

    async def refresh_all(self) -> None:
        """After (re)subscribing: reload every locally watched auction from the database."""
        for auction_id in list(self.feeds):
            try:
                state = await self.fetch_state(auction_id, not_before=self.loop.time())
            except Exception as exc:
                logger.warning("realtime refresh failed auction=%s error=%s", auction_id, exc)
                continue
            if state is not None:
                self.offer_state(auction_id, state)

    def note_event(self, auction_id: int, event: dict) -> None:
        """Remember a state (or `ended`) that reached the sockets some other way (FANOUT =
        "channels": each socket wrote it itself) without writing it again."""
        feed = self.feeds.get(auction_id)
        seq = event.get("seq")
        if feed is None or not isinstance(seq, int):
            return
        if event.get("type") == "state" and seq > feed.seq:
            feed.seq, feed.state, feed.text, feed.frame = seq, event, None, None
            feed.sent_seq = seq
        elif event.get("type") == "ended" and seq > feed.ended_seq:
            feed.ended_seq, feed.ended_text, feed.ended_sent = seq, None, True

    def _on_auction_event(self, auction_id: int, event: dict, text: str) -> None:
        feed = self.feeds.get(auction_id)
        seq = event.get("seq")
        if feed is None or not isinstance(seq, int):
            return
        kind = event.get("type")
        if kind == "state":
            if seq <= feed.seq:
                return
            feed.seq, feed.text, feed.frame, feed.state = seq, text, None, event
            self._schedule(auction_id, feed, urgent=False)
        elif kind == "ended":
            if seq <= feed.ended_seq:
                return
            feed.ended_seq, feed.ended_text, feed.ended_sent = seq, text, False
            self._schedule(auction_id, feed, urgent=True)

    # --- writing -------------------------------------------------------------------------

    def state_interval(self) -> float:
        """The gap between two state writes of one auction now: COALESCE_MS, or longer when the
        process's audience would take more than FRAME_BUDGET_PER_S frames a second (watchers /
        budget). Summed over the auctions of this process the state frames stay within the
        budget; `ended`, acks, errors and personal events never wait for it."""
        if self.frame_budget <= 0:
            return self.interval
        return max(self.interval, self.watchers / self.frame_budget)

    def state_rate(self) -> float:
        interval = self.state_interval()
        return 1.0 / interval if interval > 0 else float("inf")

    def _take_token(self, feed: _Feed) -> float:
        """Take one write from the auction's budget: 0.0 when taken, else the seconds until
        one is due."""
        now = self.loop.time()
        rate = self.state_rate()
        feed.tokens = min(self.burst, feed.tokens + (now - feed.tokens_at) * rate)
        feed.tokens_at = now
        if feed.tokens >= 1.0:
            feed.tokens -= 1.0
            return 0.0
        return (1.0 - feed.tokens) / rate

    def _schedule(self, auction_id: int, feed: _Feed, *, urgent: bool) -> None:
        if feed.flushing:
            feed.again = True
            return
        wait = 0.0 if urgent else self._take_token(feed)
        if wait <= 0:
            if feed.timer is not None:
                feed.timer.cancel()
                feed.timer = None
            feed.flushing = True
            self.loop.create_task(self._flush(auction_id, feed))
        elif feed.timer is None:  # else a write is already due: it takes the newest state
            feed.timer = self.loop.call_later(wait, self._timer_fired, auction_id, feed)

    def _timer_fired(self, auction_id: int, feed: _Feed) -> None:
        feed.timer = None
        if self.feeds.get(auction_id) is feed and not feed.flushing:
            if feed.seq > feed.sent_seq:
                self._take_token(feed)  # due by now (or a catch-up that found a new state)
                feed.tokens = max(0.0, feed.tokens)
            feed.flushing = True
            self.loop.create_task(self._flush(auction_id, feed))

    async def _flush(self, auction_id: int, feed: _Feed) -> None:
        try:
            feed.again = False
            group = self.sockets.get(auction_id)
            if not group:
                return
            # Before an `ended` every socket gets the final state, behind or not.
            final = feed.ended_text is not None and not feed.ended_sent
            if feed.text is not None and (feed.seq > feed.sent_seq or feed.lagging):
                seq = feed.seq
                feed.sent_seq = seq
                feed.lagging = False
                await self._write_all(list(group), seq, feed, may_skip=not final)
            if feed.ended_text is not None and not feed.ended_sent:
                feed.ended_sent = True
                await self._write_all(list(group), None, _Text(feed.ended_text), may_skip=False)
        finally:
            feed.flushing = False
        if self.feeds.get(auction_id) is not feed:
            return
        if feed.again:
            urgent = feed.ended_text is not None and not feed.ended_sent
            self._schedule(auction_id, feed, urgent=urgent)
        elif feed.lagging and feed.timer is None:
            feed.timer = self.loop.call_later(self.interval or 0.01, self._timer_fired, auction_id, feed)

    async def _write_all(self, group: list, seq: int | None, item, *, may_skip: bool) -> None:
        await write_all(group, seq, item, may_skip=may_skip, yield_every=self.yield_every)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def get_hub() -> Hub:
    """The hub of the running event loop (one per server process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for old in [old for old in _hubs if old.is_closed()]:
            del _hubs[old]
        hub = _hubs[loop] = Hub(loop)
    return hub


async def close_hub() -> None:
    """Stop the running loop's hub (tests; a server process simply exits)."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.aclose()
