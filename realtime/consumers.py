"""What both WebSocket doors (auctions.consumers, chat.consumers) share: `LiveConsumer`, the
base consumer, and `money_call`, the thread hop for a service call that may wait on a row lock."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from django.db import close_old_connections

from neighborbid.errors import DomainError, RateLimited, ServerError
from neighborbid.ratelimit import LocalBucket
from realtime import layer
from realtime.config import realtime_setting
from realtime.frames import FrameRejected

logger = logging.getLogger("neighborbid.realtime")

T = TypeVar("T")

_money_executor: ThreadPoolExecutor | None = None


def money_call(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Run a money service call off the event loop. Channels' default (thread_sensitive)
    puts every database call of a process on one thread, so one bid waiting for the hot
    auction's row lock would stall every other socket's bid in this process. A small pool of
    threads (REALTIME["DB_THREADS"], each with its own pooled connection) lets the waits
    overlap; the row lock, not a thread, decides the order.

    The connection goes back to the pool when the call ends, from inside the call (see
    _giving_the_connection_back)."""
    global _money_executor
    threads = realtime_setting("DB_THREADS", 4)
    if threads <= 0:
        return database_sync_to_async(_giving_the_connection_back(func))
    if _money_executor is None:
        _money_executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="money")
    return database_sync_to_async(_giving_the_connection_back(func), thread_sensitive=False, executor=_money_executor)


def _giving_the_connection_back(func: Callable[..., T]) -> Callable[..., T]:
    """database_sync_to_async tidies connections around the call but outside the context the
    call ran in (asgiref runs the function in a copy of the caller's context, where Django keeps
    its connection), so a pooled connection could stay checked out on a money thread, idle, for
    the life of the process (seen as a stray session at the test run's teardown). Tidy inside."""

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return call


def money_executor_close() -> None:
    """Close the money threads' own database connections, in the threads that own them, and
    stop the pool (a test session's teardown: otherwise each thread keeps an idle session on
    the test database until the process exits). The next money_call starts a new pool."""
    global _money_executor
    executor, _money_executor = _money_executor, None
    if executor is None:
        return
    import threading

    from django.db import connections

    workers = executor._max_workers  # as many as it may have started (settings may have changed since)
    together = threading.Barrier(workers)  # every task waits for the others: one per thread

    def close_here() -> None:
        try:
            together.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass  # fewer threads than tasks: each still closes its own
        connections.close_all()

    for future in [executor.submit(close_here) for _ in range(workers)]:
        future.result(timeout=10)
    executor.shutdown(wait=True)


def _check_session(*, session_key: str | None, user_id: int | None) -> None:
    from accounts.selectors import session_user
    from neighborbid.errors import LoginRequired

    if user_id is None:  # an anonymous socket has no session to hold
        raise LoginRequired()
    session_user(session_key=session_key, user_id=user_id)


class LiveConsumer(AsyncWebsocketConsumer):
    """The plumbing both WebSocket doors share, written once: a layer channel only for a socket
    that needs one (want_channel, join_group, user_event) and no thread hop before a handler
    (dispatch), accept-then-close with a code the browser can read
    (refuse), the frame and sync rate limits (REALTIME FRAME_*/SYNC_*), the session re-check
    (check_session), and the receive loop: take a frame token, parse strictly (parse_request),
    route (handle_request), and turn a DomainError, or any other failure, into one `error`
    frame matched by request id (send_error).

    Close codes (docs/protocol.md): 4401 not signed in / session ended, 4403 refused here
    (suspended, or a local auction), 4404 not found, 1011 server error."""

    # A channel on the Channels layer only for a socket that needs one (want_channel): the
    # personal and room messages come through it (realtime.layer); the auction states come
    # from the hub, which writes to base_send directly, so an anonymous watcher costs no
    # channel and no Redis subscription.
    channel_layer_alias = "__no_channel_layer__"
    log_prefix = "realtime"
    rt_logger = logger

    rt_user_id: int | None = None
    rt_ready = False
    rt_groups: tuple[str, ...] = ()

    def want_channel(self) -> bool:
        user = self.scope.get("user")
        return user is not None and user.is_authenticated

    async def __call__(self, scope, receive, send) -> None:
        # Channels' AsyncConsumer.__call__, with the layer channel made only when wanted and
        # within a bounded wait: with Redis down the socket still works (snapshots, bids,
        # acks); only its personal messages wait for the next page's poll.
        self.scope = scope
        self.channel_layer = None
        if self.want_channel():
            channel_layer = get_channel_layer()
            if channel_layer is not None:
                try:
                    self.channel_name = await asyncio.wait_for(
                        channel_layer.new_channel(), realtime_setting("READY_TIMEOUT_S", 1.0)
                    )
                except Exception as exc:
                    logger.warning("realtime: no layer channel for this socket: %r", exc)
                else:
                    self.channel_layer = channel_layer
                    self.channel_receive = functools.partial(channel_layer.receive, self.channel_name)
        self.base_send = send
        sources = [receive] if self.channel_layer is None else [receive, self.channel_receive]
        try:
            await await_many_dispatch(sources, self.dispatch)
        except StopConsumer:
            pass

    async def join_group(self, group: str) -> None:
        """Join a layer group (bounded wait; a socket without a channel joins nothing)."""
        if self.channel_layer is None:
            return
        try:
            await asyncio.wait_for(
                self.channel_layer.group_add(group, self.channel_name), realtime_setting("READY_TIMEOUT_S", 1.0)
            )
        except Exception as exc:
            logger.warning("realtime: could not join %s: %r", group, exc)
            return
        self.rt_groups = (*self.rt_groups, group)
        layer.remember_home_loop()

    async def leave_groups(self) -> None:
        groups, self.rt_groups = self.rt_groups, ()
        for group in groups:
            try:
                await asyncio.wait_for(
                    self.channel_layer.group_discard(group, self.channel_name),  # type: ignore[union-attr]
                    realtime_setting("READY_TIMEOUT_S", 1.0),
                )
            except Exception as exc:
                logger.debug("realtime: leaving %s failed: %r", group, exc)

    async def user_event(self, message: dict[str, Any]) -> None:
        """A message of the group `user.<id>` (realtime.layer.USER_EVENT)."""
        event = message.get("event")
        if not isinstance(event, dict):
            return
        if event.get("type") == "session_recheck":
            self.rt_session_recheck()
            return
        await self.personal_event(event)

    def rt_session_recheck(self) -> None:
        raise NotImplementedError

    async def personal_event(self, event: dict[str, Any]) -> None:
        """A personal event other than the session re-check: each door decides what it shows."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels >= 4.2 hops to the database thread (close_old_connections) before every
        # handler; every database call here goes through database_sync_to_async, which does
        # that itself, so skip the hop: a frame or a close costs no thread switch.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    def setup_limits(self) -> None:
        self._frames = LocalBucket(realtime_setting("FRAME_RATE_PER_S", 20), realtime_setting("FRAME_BURST", 40))
        self._syncs = LocalBucket(realtime_setting("SYNC_RATE_PER_S", 1), realtime_setting("SYNC_BURST", 5))

    def take_sync(self) -> None:
        if not self._syncs.take():
            raise RateLimited("동기화 요청이 너무 잦아요. 잠시 후 다시 시도해 주세요.")

    async def refuse(self, code: int) -> None:
        """Accept, then close with a code the client can read (a refused handshake would only
        show an HTTP 403 to a browser)."""
        await self.accept()
        await self.close(code)

    def _session_key(self) -> str | None:
        """The credential every re-check reads: the session's key, or, for a socket opened with
        an app's ticket (api/websocket.py), "device:<token id>" (accounts.selectors.session_user)."""
        credential = self.scope.get("nb_credential")
        if credential:
            return credential
        session = self.scope.get("session")
        return getattr(session, "session_key", None) if session is not None else None

    async def check_session(self) -> None:
        """Re-read this socket's session (logged out? suspended?): LoginRequired or
        AccountSuspended when it no longer holds."""
        await money_call(_check_session)(session_key=self._session_key(), user_id=self.rt_user_id)

    # --- frames ----------------------------------------------------------------------------

    def parse_request(self, message: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def handle_request(self, request: Any) -> None:
        raise NotImplementedError

    async def send_error(self, error: DomainError, request_id: str | None) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return f"user={self.rt_user_id}"

    @staticmethod
    def error_payload(error: DomainError, request_id: str | None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "error",
            "request_id": request_id,
            "code": error.code,
            "message": error.message,
        }
        for key, value in error.details.items():
            payload.setdefault(key, value)
        return payload

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if not self.rt_ready:
            return  # refused or closing
        if not self._frames.take():
            await self.send_error(RateLimited("메시지를 너무 자주 보내고 있어요. 잠시 후 다시 시도해 주세요."), None)
            return
        try:
            request = self.parse_request(message)
        except FrameRejected as rejected:
            await self.send_error(rejected.error, rejected.request_id)
            return
        try:
            await self.handle_request(request)
        except DomainError as exc:
            await self.send_error(exc, request.request_id)
        except Exception:
            self.rt_logger.exception("%s: %s failed %s", self.log_prefix, request.type, self.describe())
            await self.send_error(ServerError(), request.request_id)
