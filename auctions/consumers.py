"""The WebSocket door to a national auction: `ws/auctions/<id>/` (docs/protocol.md).

Transport only, like the HTTP views: parse a frame strictly (realtime.frames), check
who is asking (accounts.selectors.session_user; a bid hands its session key to the service,
which checks it inside its one read), take a rate-limit token
(neighborbid.ratelimit), call one service (auctions.services.bid_place / auction_buy_now) and
turn the result or the DomainError into exactly one `ack` or `error` frame matched by request
id. It never writes money, never decides a rule (the "sure loser" rule is
auctions.rules.sure_loser_minimum, shared with the service) and never puts client JSON
anywhere.

Live updates do not come through the Channels layer: the socket registers with the process's
hub (realtime.hub), which writes committed states and personal events straight to
`base_send`. So this consumer asks for no channel-layer channel at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections import OrderedDict
from contextlib import nullcontext
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.models import User
from accounts.selectors import session_user
from auctions import admission, services
from auctions.rules import sure_loser_minimum
from auctions.selectors import leader_tag
from auctions.services import BidAsk
from neighborbid import bus
from neighborbid.errors import (
    AccountSuspended,
    AuctionNotFound,
    BidTooLow,
    DomainError,
    LoginRequired,
    RateLimited,
    ServerError,
)
from neighborbid.ratelimit import rate_limit_take_local
from neighborbid.replica import note_write
from realtime import layer
from realtime.config import realtime_setting
from realtime.consumers import LiveConsumer, money_call
from realtime.frames import ClientRequest, parse_frame
from realtime.hub import get_hub
from realtime.transport import install as install_transport_limits

logger = logging.getLogger("neighborbid.realtime")

install_transport_limits()  # oversize messages: close 1009 "message too big", never a dropped TCP

# Close codes (docs/protocol.md). 4xxx: application codes, never retried by the client as is.
CLOSE_NOT_FOUND = 4404  # no such auction (or hidden)
CLOSE_NOT_NATIONAL = 4403  # a local auction: its page works over HTTP only
CLOSE_SERVER_ERROR = 1011
CLOSE_LOGIN_REQUIRED = 4401  # the bid door, opened without signing in

# Request ids this process has already handed to the bidding service (bounded): a resend of
# one of them goes to the service (which replays the first outcome) even when its amount is
# below the committed minimum by now.
_KNOWN_REQUESTS: OrderedDict[tuple[int, str], None] = OrderedDict()
_KNOWN_REQUESTS_MAX = 50_000

# A bid that lost while it waited in its auction's line (refused by _refuse_if_sure_loser).
_LOST = object()


class _BidLine:
    """One auction's bids in this process, in the order they came, one money call at a time:
    when the call in flight returns, the bids that arrived meanwhile go to the service together
    (bid_place_many, up to REALTIME["BID_BATCH"]), each decided on the state the bids before it
    leave, and all written in one round trip. A lone bid goes to bid_place as before. Each bid
    is first checked against the newest committed state this process knows (_ACKED, the hub),
    so one that lost while it waited is refused without the service (_LOST). The event loop's
    thread only; dropped when empty."""

    def __init__(self, auction_id: int) -> None:
        self.auction_id = auction_id
        self.waiting: list[tuple[AuctionConsumer, ClientRequest, asyncio.Future[Any]]] = []
        self.task: asyncio.Task[None] | None = None  # the drain (held: the loop keeps only a weak reference)

    async def place(self, consumer: AuctionConsumer, request: ClientRequest) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append((consumer, request, future))
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                size = max(1, realtime_setting("BID_BATCH", 32))
                taken, self.waiting[:size] = self.waiting[:size], []
                try:
                    batch = []
                    for consumer, request, future in taken:
                        if future.done():  # its socket went away while it waited
                            continue
                        if consumer._sure_loser(request) is not None:  # noqa: SLF001 (the line is the consumer's)
                            future.set_result(_LOST)
                            continue
                        _remember_request(consumer.rt_user_id, request.request_id)  # type: ignore[arg-type]  # a bid frame
                        batch.append((consumer, request, future))
                    if batch:
                        await self._place(batch)
                except asyncio.CancelledError:  # the loop is going away: nobody waits for ever
                    for *_rest, future in (*taken, *self.waiting):
                        future.cancel()
                    self.waiting.clear()
                    raise
                except Exception as exc:  # what was taken fails as a lone bid would; the line goes on
                    for *_rest, future in taken:
                        if not future.done():
                            future.set_exception(exc)
        finally:
            self.task = None
            if not self.waiting and _LINES.get(self.auction_id) is self:
                del _LINES[self.auction_id]

    async def _place(self, batch: list[tuple[AuctionConsumer, ClientRequest, asyncio.Future[Any]]]) -> None:
        futures = [future for _consumer, _request, future in batch]
        try:
            if len(batch) == 1:  # a lone bid: the consumer's own call, as before the line batched
                consumer, request, _future = batch[0]
                outcomes: list[Any] = [await consumer._place(request, admitted=True)]  # noqa: SLF001
            else:
                asks = [
                    BidAsk(
                        actor_id=consumer.rt_user_id,  # type: ignore[arg-type]  # a bidder is signed in
                        amount=request.amount,  # type: ignore[arg-type]  # a bid frame
                        request_id=request.request_id,  # type: ignore[arg-type]
                        max_amount=request.max_amount,
                        session_key=consumer._session_key(),  # noqa: SLF001
                    )
                    for consumer, request, _future in batch
                ]
                outcomes = await money_call(_place_bids)(auction_id=self.auction_id, asks=asks)
        except Exception as exc:  # every bid of the call fails as a lone one would
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, outcome in zip(futures, outcomes, strict=True):
            if isinstance(outcome, Exception):  # its refusal, or the error that stopped it alone
                if not future.done():
                    future.set_exception(outcome)
                continue
            _note_acked(outcome.state)  # the next bids in line are checked against it
            if not future.done():  # (its socket may have gone; the bid stands)
                future.set_result(outcome)


# Per auction: its line of bids in this process (dropped when empty).
_LINES: dict[int, _BidLine] = {}


def _bid_line(auction_id: int) -> _BidLine:
    line = _LINES.get(auction_id)
    if line is None:
        line = _LINES[auction_id] = _BidLine(auction_id)
    return line


# The newest state a bid through this process committed, per auction (read on the event loop).
_ACKED: dict[int, dict] = {}
_ACKED_MAX = 10_000


def _note_acked(state: dict) -> None:
    auction_id = state["auction_id"]
    known = _ACKED.get(auction_id)
    if known is None or state["seq"] > known["seq"]:
        if known is None and len(_ACKED) >= _ACKED_MAX:
            _ACKED.clear()  # only a shortcut: the hub's feed and the service still decide
        _ACKED[auction_id] = state


def _remember_request(user_id: int, request_id: str) -> None:
    key = (user_id, request_id)
    _KNOWN_REQUESTS[key] = None
    _KNOWN_REQUESTS.move_to_end(key)
    while len(_KNOWN_REQUESTS) > _KNOWN_REQUESTS_MAX:
        _KNOWN_REQUESTS.popitem(last=False)


def _place_bid(*, session_key, user_id, auction_id, amount, request_id, max_amount=None, admitted=False):
    # The service checks the session itself (in its one read on PostgreSQL), before anything else.
    # Past the admission bound: error `overloaded` (`admitted`: the caller holds the place).
    with nullcontext() if admitted else admission.bid_admitted(auction_id=auction_id):
        result = services.bid_place(
            auction_id=auction_id,
            actor=User(pk=user_id),
            amount=amount,
            max_amount=max_amount,
            request_id=request_id,
            session_key=session_key,
        )
    # committed: the bidder's next page waits for the standby to replay it (a no-op without one)
    note_write(user_id)
    return result


def _place_bids(*, auction_id: int, asks: list[BidAsk]) -> list[Any]:
    # A line's bids together (each session checked in the service's reads, as for one bid).
    outcomes = services.bid_place_many(auction_id=auction_id, bids=asks)
    for ask, outcome in zip(asks, outcomes, strict=True):
        if not isinstance(outcome, Exception):
            note_write(ask.actor_id)  # as after a bid
    return outcomes


def _buy_now(*, session_key, user_id, auction_id, request_id):
    user = session_user(session_key=session_key, user_id=user_id)
    with admission.bid_admitted(auction_id=auction_id):
        result = services.auction_buy_now(auction_id=auction_id, actor=user, request_id=request_id)
    note_write(user_id)  # as after a bid
    return result


def _requests_seen(*, keys: list[tuple[int, str]]) -> set[tuple[int, str]]:
    from auctions.selectors import bid_requests_seen

    return bid_requests_seen(keys=keys)


class _SeenChecks:
    """The early refusals' twin checks of one event loop (was this request id used for a bid
    before, on another server say?), one query at a time: the checks that arrive while one is
    in flight go together in the next. In a drop most bids are sure losers, and they come in
    bursts (every bid waiting on one that was accepted loses at once), so a burst costs one thread
    hop and one statement instead of one each. Exact as before: every check's query starts
    after its bid was found a sure loser, which is all the refusal needs."""

    BATCH_MAX = 500  # pairs per statement

    def __init__(self) -> None:
        self.waiting: dict[tuple[int, str], list[asyncio.Future[bool]]] = {}
        self.running = False
        self.task: asyncio.Task[None] | None = None  # the drain (held: the loop keeps only a weak reference)

    async def seen(self, key: tuple[int, str]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(key, []).append(future)
        if not self.running:
            self.running = True
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                keys = list(self.waiting)[: self.BATCH_MAX]
                batch = {key: self.waiting.pop(key) for key in keys}
                try:
                    found = await money_call(_requests_seen)(keys=keys)
                except asyncio.CancelledError:  # the loop is going away: nobody waits for ever
                    for futures in (*batch.values(), *self.waiting.values()):
                        for future in futures:
                            future.cancel()
                    self.waiting.clear()
                    raise
                except Exception as exc:  # every check of the batch fails as a lone one would
                    for futures in batch.values():
                        for future in futures:
                            if not future.done():
                                future.set_exception(exc)
                    continue
                for key, futures in batch.items():
                    for future in futures:
                        if not future.done():  # (its socket may have gone)
                            future.set_result(key in found)
        finally:
            self.running = False


# One per event loop (a test run makes many loops; a server has one).
_SEEN_CHECKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SeenChecks] = weakref.WeakKeyDictionary()


def _seen_checks() -> _SeenChecks:
    loop = asyncio.get_running_loop()
    checks = _SEEN_CHECKS.get(loop)
    if checks is None:
        checks = _SEEN_CHECKS[loop] = _SeenChecks()
    return checks


class AuctionConsumer(LiveConsumer):
    """`ws/auctions/<id>/`: the watch door (states, personal events, and bids); and
    `ws/auctions/<id>/bid/` (AuctionBidConsumer, door="bid"): the bid door, for a signed-in client's requests
    only: it answers each with its ack or error and hears no state or personal event, so a
    deployment can route it to processes that write to no crowd (docs/realtime.md, "The bid
    door"). Both take the same frames through the same code."""

    door = "watch"
    rt_auction_id: int | None = None
    rt_last_seq = -1
    _registered = False

    # --- plumbing --------------------------------------------------------------------------

    async def websocket_disconnect(self, message):
        if self._registered:
            get_hub().unregister(self)
        self.rt_ready = False
        await self.leave_groups()
        raise StopConsumer()

    def want_channel(self) -> bool:
        # with FANOUT = "channels" every watcher hears the states through the layer
        return layer.fanout_mode() == "channels" or super().want_channel()

    async def send_json(self, payload: dict) -> None:
        await self.send(text_data=bus.encode(payload))

    # --- connect -----------------------------------------------------------------------------

    async def websocket_connect(self, message):
        auction_id = self.scope["url_route"]["kwargs"]["auction_id"]
        user = self.scope.get("user")
        self.rt_user_id = user.pk if user is not None and user.is_authenticated else None
        self._you_tag = leader_tag(auction_id=auction_id, user_id=self.rt_user_id)
        self.setup_limits()
        self._ack_state: dict | None = None
        # Who this socket acts for, as far as the door knows: None while the session holds;
        # the refusal to give once a logout, password change or suspension was announced.
        self._revoked: DomainError | None = None
        self._rechecking = False
        self._held: list[dict] = []
        self._session_checked_at = float("-inf")
        hub = get_hub()
        # Bounded wait for the bus subscription; if Redis is down the socket still works
        # (snapshots from the database, acks) and the hub catches up when it is back.
        await hub.ready(timeout=realtime_setting("READY_TIMEOUT_S", 1.0))
        try:
            # A read up to 250 ms old will do to decide national/unknown; shared by a burst.
            state = await hub.fetch_state(auction_id, not_before=hub.loop.time() - 0.25)
        except Exception:
            logger.exception("realtime: connect check failed auction=%s", auction_id)
            await self.refuse(CLOSE_SERVER_ERROR)
            return
        if state is None or not state["is_national"]:
            await self.refuse(CLOSE_NOT_FOUND if state is None else CLOSE_NOT_NATIONAL)
            return
        if self.door == "bid" and self.rt_user_id is None:
            await self.refuse(CLOSE_LOGIN_REQUIRED)  # the bid door is for bids only
            return
        await self.accept()
        self.rt_auction_id = auction_id
        self._ended_sent = False
        if self.door == "watch":
            hub.register(self)
            self._registered = True
        if self.rt_user_id is not None:  # the bid door too: its session re-check comes this way
            await self.join_group(layer.user_group(self.rt_user_id))
        if layer.fanout_mode() == "channels" and self.door == "watch":
            await self.join_group(layer.auction_group(auction_id))
        await self._send_snapshot(request_id=None, fresh=False)

    async def _send_snapshot(self, *, request_id: str | None, fresh: bool) -> None:
        hub = get_hub()
        try:
            state = await hub.snapshot_state(self.rt_auction_id, fresh=fresh)  # type: ignore[arg-type]  # set on connect
        except Exception:
            logger.exception("realtime: snapshot failed auction=%s", self.rt_auction_id)
            await self.send_error(ServerError("잠시 후 다시 시도해 주세요."), request_id)
            return
        if state is None:  # hidden or deleted since
            await self.send_error(AuctionNotFound(), request_id)
            await self.close(CLOSE_NOT_FOUND)
            return
        if self._ack_state is not None and self._ack_state["seq"] > state["seq"]:
            state = self._ack_state
        signed_in = self.rt_user_id is not None and self._revoked is None
        payload = {
            **state,
            "type": "snapshot",
            "request_id": request_id,
            "you": {
                "signed_in": signed_in,
                "tag": self._you_tag if signed_in else None,
                "leading": signed_in and self._you_tag is not None and state.get("leader_tag") == self._you_tag,
            },
        }
        # No suspension between this bookkeeping and the write (see hub._flush).
        self.rt_last_seq = max(self.rt_last_seq, state["seq"])
        self.rt_ready = True
        await self.send_json(payload)

    # --- personal delivery (the layer's group user.<id>) -----------------------------------------

    async def personal_event(self, event: dict) -> None:
        """A notification (outbid, won, the badges) for this user: written unless the session
        ended (rt_accepts_personal). Chat events are for the chat sockets."""
        if event.get("type") != "notification" or not self.rt_ready or self.door == "bid":
            return  # the bid door hears no personal event: the watch door shows them
        message = {"type": "websocket.send", "text": bus.encode(event)}
        if self.rt_accepts_personal(message):
            await self.base_send(message)

    async def auction_event(self, message: dict) -> None:
        """A state or `ended` through the group auction.<id> (only with FANOUT = "channels"):
        each socket writes its own frame, never an older state after a newer one."""
        event = message.get("event")
        if not isinstance(event, dict) or not self.rt_ready or self.rt_auction_id is None:
            return
        seq = event.get("seq")
        if not isinstance(seq, int):
            return
        get_hub().note_event(self.rt_auction_id, event)  # early refusals and snapshots see it
        kind = event.get("type")
        if kind == "state" and seq > self.rt_last_seq:
            self.rt_last_seq = seq
            await self.send_json(event)
        elif kind == "ended" and not self._ended_sent:
            self._ended_sent = True
            await self.send_json(event)

    def rt_accepts_personal(self, message: dict) -> bool:
        """May the hub write this personal event now? Never after the session ended (logout,
        password change, suspension) — except the suspension's own notice, which is for the
        suspended user (it is published just before the session is cut and may arrive after);
        held while the session is being re-checked."""
        if self.rt_user_id is None:
            return False
        if self._revoked is not None:
            return isinstance(self._revoked, AccountSuspended) and _is_suspension_notice(message)
        if self._rechecking:
            self._held.append(message)
            return False
        return True

    def rt_session_recheck(self) -> None:
        """The user's sessions changed somewhere (accounts.services.user_sessions_changed):
        hold personal delivery at once and re-check this socket's session."""
        if self.rt_user_id is None or self._revoked is not None:
            return
        self._rechecking = True
        asyncio.get_running_loop().create_task(self._recheck())

    async def _recheck(self) -> None:
        try:
            await self.check_session()
        except (LoginRequired, AccountSuspended) as refusal:
            self._revoked = refusal
        except Exception:
            logger.exception("realtime: session re-check failed user=%s", self.rt_user_id)
            self._revoked = LoginRequired()  # fail closed: personal data stays private
        self._rechecking = False
        held, self._held = self._held, []
        for message in held:
            if self._revoked is None or (
                isinstance(self._revoked, AccountSuspended) and _is_suspension_notice(message)
            ):
                await self.base_send(message)

    # --- frames --------------------------------------------------------------------------------

    def parse_request(self, message: dict) -> ClientRequest:
        return parse_frame(message.get("text"), message.get("bytes"))

    async def handle_request(self, request: ClientRequest) -> None:
        if request.type == "sync":
            await self._handle_sync(request)
        elif request.type == "bid":
            await self._bid(request)
        elif request.type == "buy_now":
            await self._buy_now(request)

    def describe(self) -> str:
        return f"auction={self.rt_auction_id} user={self.rt_user_id}"

    async def _handle_sync(self, request: ClientRequest) -> None:
        self.take_sync()
        if request.seq is not None:
            logger.debug("realtime: sync from seq=%s auction=%s", request.seq, self.rt_auction_id)
        await self._send_snapshot(request_id=request.request_id, fresh=True)

    async def _money_gate(self) -> None:
        """Who first (anonymous, logged out, suspended), then the per-user rate limit."""
        if self.rt_user_id is None:
            raise LoginRequired("로그인한 회원만 입찰하거나 구매할 수 있어요.")
        if self._revoked is not None:
            raise self._revoked
        allowed = rate_limit_take_local(
            key=f"ws-bid:{self.rt_user_id}",
            rate=realtime_setting("BID_RATE_PER_S", 5),
            burst=realtime_setting("BID_BURST", 10),
        )
        if not allowed:
            raise RateLimited("입찰이 너무 잦아요. 잠시 후 다시 시도해 주세요.")

    async def _session_recent(self) -> None:
        """Check the session (logged out? suspended?) unless it held less than
        REALTIME["SESSION_CHECK_S"] ago: the early refusal of a sure loser must not answer
        `bid_too_low` to a socket whose session ended, yet a burst of them costs one query a
        second at most. (The accepted path re-checks in the service every time.)"""
        now = get_hub().loop.time()
        if now - self._session_checked_at < realtime_setting("SESSION_CHECK_S", 1.0):
            return
        try:
            await self.check_session()
        except (LoginRequired, AccountSuspended) as refusal:
            self._revoked = refusal  # personal delivery ends too
            raise
        self._session_checked_at = now

    async def _bid(self, request: ClientRequest) -> None:
        await self._money_gate()
        # The parser guarantees these for a bid frame; the assert only narrows the types.
        assert self.rt_user_id is not None and request.amount is not None and request.request_id is not None  # noqa: S101, PT018
        await self._refuse_if_sure_loser(request)
        if realtime_setting("BID_TURN", True):
            # One bid per auction at a time in this process: a bid that waited its turn is
            # checked again against the state the bids before it committed (_ACKED), so it is
            # refused without a query when it lost meanwhile, and the bids that go on race only
            # another process's. The line has a bound of its own (REALTIME["BID_LINE"]; past it,
            # `overloaded` at once): a bid waiting its turn holds no database connection, only
            # the one in the service does, so the pool's bound (BID_WAITERS_PER_AUCTION) would
            # cap a bid door, which takes every bid of its auctions, at a few bids in flight.
            # The bids that wait while one is in the service go together when its call returns
            # (_BidLine: one write round trip for the lot, each decided after the one before).
            line = admission.bid_admitted(auction_id=self.rt_auction_id, limit=realtime_setting("BID_LINE", 64))  # type: ignore[arg-type]
            with line:
                result = await _bid_line(self.rt_auction_id).place(self, request)  # type: ignore[arg-type]
            if result is _LOST:
                await self._refuse_if_sure_loser(request)  # outside the line: the checks that need queries
                result = await self._place(request)  # a repeat of a request seen before: the service replays it
        else:
            result = await self._place(request)
        fields = {"action": "bid", "duplicate": result.duplicate, "bid_id": result.bid.pk, "amount": result.bid.amount}
        # max bidding: whether this bidder leads now, and their own maximum (never anyone else's)
        fields |= {"leading": result.leading, "my_max": result.my_max}
        # its place in the bid log, to check later on the verify page (issue 24); none for a replay
        # (the first answer carried it) or a raise of one's own maximum (no public leaf)
        fields["receipt"] = result.receipt
        await self._ack(request, fields, result.state)
        # then the committed state to this process's other sockets at once, after the ack (the
        # bus brings it again with the same seq; the hub keeps the newest)
        get_hub().offer_state(self.rt_auction_id, dict(result.state))  # type: ignore[arg-type]  # set on connect

    def _sure_loser(self, request: ClientRequest) -> BidTooLow | None:
        """Certainly too low for a committed state, and this request id was never handed to
        the service by this process (then the service replays the first outcome)."""
        too_low = self._too_low_for_committed_state(request.amount)  # type: ignore[arg-type]  # a bid frame
        if too_low is None or (self.rt_user_id, request.request_id) in _KNOWN_REQUESTS:
            return None
        return too_low

    async def _refuse_if_sure_loser(self, request: ClientRequest) -> None:
        """Refuse a sure loser without the row lock, unless this request id was used before
        (on another server, say, before a reconnect). Who first: the session may have ended
        with no announcement (Redis down)."""
        too_low = self._sure_loser(request)
        if too_low is None:
            return
        await self._session_recent()
        seen = await _seen_checks().seen((self.rt_user_id, request.request_id))  # type: ignore[arg-type]  # a bid frame
        if not seen:
            raise too_low

    async def _place(self, request: ClientRequest, *, admitted: bool = False) -> Any:
        _remember_request(self.rt_user_id, request.request_id)  # type: ignore[arg-type]  # a bid frame
        result = await money_call(_place_bid)(
            admitted=admitted,
            session_key=self._session_key(),
            user_id=self.rt_user_id,
            auction_id=self.rt_auction_id,
            amount=request.amount,
            request_id=request.request_id,
            max_amount=request.max_amount,
        )
        _note_acked(result.state)  # the next bid in line is checked against it
        return result

    def _too_low_for_committed_state(self, amount: int) -> BidTooLow | None:
        """The newest committed state this socket holds (the hub's feed or its own last ack)
        decides, by the same rule as the service's early refusal."""
        feed_state = get_hub().latest_state(self.rt_auction_id)  # type: ignore[arg-type]  # set on connect
        known = (feed_state, self._ack_state, _ACKED.get(self.rt_auction_id))  # type: ignore[arg-type]
        state = max((s for s in known if s is not None), key=lambda s: s["seq"], default=None)
        if state is None:
            return None
        minimum = sure_loser_minimum(
            status=state["status"],
            has_bids=bool(state["bid_count"]),
            current_price=state["current_price"],
            amount=amount,
            is_leader=self._you_tag is not None and state.get("leader_tag") == self._you_tag,
        )
        if minimum is None:
            return None
        return BidTooLow.below(minimum, current_price=state["current_price"], seq=state["seq"])

    async def _buy_now(self, request: ClientRequest) -> None:
        await self._money_gate()
        result = await money_call(_buy_now)(
            session_key=self._session_key(),
            user_id=self.rt_user_id,
            auction_id=self.rt_auction_id,
            request_id=request.request_id,
        )
        await self._ack(
            request,
            {"action": "buy_now", "duplicate": result.duplicate, "price": result.auction.current_price},
            result.state,
        )

    async def _ack(self, request: ClientRequest, fields: dict, state: dict) -> None:
        # The ack carries the committed state: the client applies it by the same seq rule as a
        # `state` message, so the hub need not send this socket the same state again.
        if state["seq"] > self.rt_last_seq:
            self.rt_last_seq = state["seq"]
            self._ack_state = state
        await self.send_json({"type": "ack", "request_id": request.request_id, **fields, "state": state})

    async def send_error(self, error: DomainError, request_id: str | None) -> None:
        await self.send_json(self.error_payload(error, request_id))


class AuctionBidConsumer(AuctionConsumer):
    """The bid door, `ws/auctions/<id>/bid/` (see AuctionConsumer)."""

    door = "bid"


class NotFoundConsumer(AsyncWebsocketConsumer):
    """Any other WebSocket path: accepted, then closed with 4404."""

    channel_layer_alias = "__no_channel_layer__"

    async def dispatch(self, message):
        handler = getattr(self, get_handler_name(message), None)
        if handler is not None:
            await handler(message)

    async def websocket_connect(self, message):
        await self.accept()
        await self.close(CLOSE_NOT_FOUND)

    async def websocket_disconnect(self, message):
        raise StopConsumer()


def _is_suspension_notice(message: dict) -> bool:
    """The personal `notification` frame of kind `suspended` (docs/protocol.md)."""
    text = message.get("text") or ""
    if '"suspended"' not in text:  # the common case, without parsing
        return False
    try:
        frame = json.loads(text)
    except ValueError:
        return False
    return frame.get("type") == "notification" and frame.get("kind") == "suspended"
