"""The WebSocket door to a trade's chat room: `ws/chat/<room_id>/` (docs/protocol.md, "Chat").

The same checks as the auction door: the Origin (AllowedHostsOriginValidator, neighborbid.asgi),
the session re-read on every write (accounts.selectors.session_user), strict frames
(chat.frames), one service call per request and exactly one `ack` or `error` for it.

Delivery: the services send each committed message, meeting and closing to the Channels layer's
group `chat.room.<id>`, which both participants' chat sockets of the room join, and a read
mark to the other side's group `user.<id>` (realtime.layer). Each socket keeps the last `seq` it gave its client and
a small buffer of messages that arrived ahead of a gap: a gap (an event lost while Redis was
away, or two processes' publishes crossing) is filled from the database before anything after
it goes out. So every message reaches the client once, in order, whatever the bus did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from django.conf import settings

from accounts.selectors import session_user
from chat import services
from chat.frames import ChatRequest, parse_chat_frame
from chat.selectors import room_messages_after, room_participant, room_role, unread_chat_count
from neighborbid import bus
from neighborbid.errors import (
    AccountSuspended,
    ChatNotFound,
    DomainError,
    LoginRequired,
    RateLimited,
)
from neighborbid.ratelimit import rate_limit_take_local
from realtime import layer, presence
from realtime.config import realtime_setting
from realtime.consumers import LiveConsumer, money_call
from realtime.hub import get_hub
from realtime.presence import presence_enter, presence_leave

logger = logging.getLogger("neighborbid.chat")

CLOSE_LOGIN = 4401  # not signed in, or the session ended
CLOSE_FORBIDDEN = 4403  # suspended: the room is readable over HTTP only
CLOSE_NOT_FOUND = 4404  # no such room, or not yours
CLOSE_SERVER_ERROR = 1011


def chat_setting(name: str, default):
    return getattr(settings, "CHAT", {}).get(name, default)


def _open_room(*, session_key: str | None, user_id: int, room_id: int) -> dict:
    user = session_user(session_key=session_key, user_id=user_id)
    room = room_participant(room_id=room_id, user_id=user.pk)
    return {
        "room_id": room.pk,
        "you": room_role(room, user.pk),
        "seq": room.seq,
        "read": {"buyer": room.buyer_read_seq, "seller": room.seller_read_seq},
        "status": room.status,
    }


def _messages_after(*, room_id: int, user_id: int, after: int, limit: int) -> dict:
    room = room_participant(room_id=room_id, user_id=user_id)
    messages = room_messages_after(room=room, user_id=user_id, after=after, limit=limit)
    return {
        "messages": messages,
        "seq": room.seq,
        "more": bool(messages) and messages[-1]["seq"] < room.seq,
        "read": {"buyer": room.buyer_read_seq, "seller": room.seller_read_seq},
        "status": room.status,
    }


def _send(*, session_key, user_id: int, room_id: int, text: str, client_id: str):
    user = session_user(session_key=session_key, user_id=user_id)
    result = services.message_send(actor=user, room_id=room_id, text=text, client_id=client_id)
    from chat.selectors import message_payload

    return result, message_payload(result.message)


def _read(*, session_key, user_id: int, room_id: int, seq: int) -> tuple[int, int]:
    """Move the read mark; answer with the mark and this user's unread total (the badge)."""
    user = session_user(session_key=session_key, user_id=user_id)
    mark = services.room_mark_read(actor=user, room_id=room_id, seq=seq)
    return mark, unread_chat_count(user_id=user.pk)


class ChatConsumer(LiveConsumer):
    log_prefix = "chat"
    rt_logger = logger

    rt_room_id: int | None = None
    rt_seq: int | None = None  # the last message seq this client has (None until its first sync)

    # --- connect / disconnect ----------------------------------------------------------------

    async def websocket_connect(self, message):
        room_id = self.scope["url_route"]["kwargs"]["room_id"]
        user = self.scope.get("user")
        self._pending: dict[int, dict] = {}
        self._fetching = 0
        self._refetch = False
        self._outbox: asyncio.Queue = asyncio.Queue()
        self._writer: asyncio.Task | None = None
        self.setup_limits()
        if user is None or not user.is_authenticated:
            await self.refuse(CLOSE_LOGIN)
            return
        self.rt_user_id = user.pk
        hub = get_hub()
        await hub.ready(timeout=realtime_setting("READY_TIMEOUT_S", 1.0))
        try:
            info = await database_sync_to_async(_open_room)(
                session_key=self._session_key(), user_id=user.pk, room_id=room_id
            )
        except (LoginRequired, AccountSuspended, ChatNotFound) as refusal:
            code = {"login_required": CLOSE_LOGIN, "suspended": CLOSE_FORBIDDEN}.get(refusal.code, CLOSE_NOT_FOUND)
            await self.refuse(code)
            return
        except Exception:
            logger.exception("chat: connect failed room=%s", room_id)
            await self.refuse(CLOSE_SERVER_ERROR)
            return
        await self.accept()
        self.rt_room_id = room_id
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())
        hub.chat_register(self)
        await self.join_group(layer.user_group(user.pk))
        await self.join_group(layer.room_group(room_id))
        # the room is open here: no chat push to this user for it while it is (issue 22)
        self._presence_token = uuid.uuid4().hex
        self._presence_stop = asyncio.Event()
        self._presence = asyncio.get_running_loop().create_task(self._presence_loop(room_id, user.pk))
        self.rt_ready = True
        self._emit({"type": "ready", **info})

    async def _presence_loop(self, room_id: int, user_id: int) -> None:
        """Record the open room now and every REFRESH_S until the socket closes. Stopped by an
        event, never cancelled in the middle of a write: a cancelled task does not stop its
        thread, and a refresh landing after the leave would show the room open (no chat push)
        for TTL_S after the page closed."""
        stop = self._presence_stop
        while not stop.is_set():
            await asyncio.to_thread(presence_enter, room_id=room_id, user_id=user_id, token=self._presence_token)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), presence.REFRESH_S)

    async def websocket_disconnect(self, message):
        if self.rt_room_id is not None:
            get_hub().chat_unregister(self)
            task = getattr(self, "_presence", None)
            if task is not None:
                self._presence_stop.set()
                await asyncio.wait([task])  # a write in flight lands before the leave
                await asyncio.to_thread(
                    presence_leave, room_id=self.rt_room_id, user_id=self.rt_user_id, token=self._presence_token
                )
        self.rt_ready = False
        if self._writer is not None:
            self._writer.cancel()
        await self.leave_groups()
        raise StopConsumer()

    # --- writing to the client (one writer: frames leave in the order they were emitted) -------

    def _emit(self, payload: dict) -> None:
        self._outbox.put_nowait(bus.encode(payload))

    def _emit_close(self, code: int) -> None:
        """Close after everything emitted so far went out (an error frame, then the close)."""
        self.rt_ready = False
        self._outbox.put_nowait(code)

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            try:
                if isinstance(item, int):
                    await self.close(item)
                    return
                await self.send(text_data=item)
            except Exception as exc:  # closing
                logger.debug("chat write failed: %s", exc)
                return

    # --- events from the layer (groups chat.room.<id> and user.<id>) -------------------------

    async def room_event(self, message: dict) -> None:
        event = message.get("event")
        if isinstance(event, dict):
            self.rt_chat_event(event)

    async def personal_event(self, event: dict) -> None:
        kind = event.get("type")
        if isinstance(kind, str) and kind.startswith("chat."):
            self.rt_chat_event(event)

    def rt_chat_event(self, event: dict) -> None:
        if not self.rt_ready or event.get("room_id") != self.rt_room_id:
            return
        kind = event.get("type")
        if kind == "chat.message":
            message = event.get("message")
            if isinstance(message, dict) and isinstance(message.get("seq"), int):
                self._offer([message])
        elif kind == "chat.read":
            self._emit(
                {"type": "read", "room_id": self.rt_room_id, "reader": event.get("reader"), "seq": event.get("seq")}
            )
        elif kind == "chat.meeting":
            self._emit({"type": "meeting", "room_id": self.rt_room_id, "message": event.get("message")})
        elif kind == "chat.closed":
            self._emit({"type": "closed", "room_id": self.rt_room_id, "reason": event.get("reason")})

    def rt_chat_resync(self) -> None:
        """The hub's subscription is back: whatever was published meanwhile is lost, so read
        what came after our mark from the database."""
        if self.rt_ready and self.rt_seq is not None:
            self._catch_up()

    def rt_session_recheck(self) -> None:
        if self.rt_ready:
            asyncio.get_running_loop().create_task(self._recheck())

    async def _recheck(self) -> None:
        try:
            await self.check_session()
        except (LoginRequired, AccountSuspended):
            self._emit_close(CLOSE_LOGIN)
        except Exception:
            logger.exception("chat: session re-check failed user=%s", self.rt_user_id)
            self._emit_close(CLOSE_LOGIN)  # fail closed: the conversation is private

    # --- in-order, exactly-once delivery ------------------------------------------------------

    def _offer(self, messages: list[dict]) -> None:
        for message in messages:
            seq = message["seq"]
            if self.rt_seq is None or seq > self.rt_seq:
                self._pending.setdefault(seq, message)
        self._drain()

    def _drain(self) -> None:
        if self.rt_seq is None or self._fetching:
            return
        while self.rt_seq + 1 in self._pending:
            self.rt_seq += 1
            self._emit({"type": "message", "room_id": self.rt_room_id, "message": self._pending.pop(self.rt_seq)})
        for seq in [s for s in self._pending if s <= self.rt_seq]:
            del self._pending[seq]
        if self._pending:
            self._catch_up()  # a gap before the next one we hold: fill it from the database

    def _catch_up(self) -> None:
        if self._fetching:
            self._refetch = True
            return
        self._fetching += 1
        asyncio.get_running_loop().create_task(self._fetch_missing())

    async def _fetch_missing(self) -> None:
        try:
            while self.rt_ready:
                self._refetch = False
                answer = await database_sync_to_async(_messages_after)(
                    room_id=self.rt_room_id,
                    user_id=self.rt_user_id,
                    after=self.rt_seq,
                    limit=chat_setting("SYNC_MAX", 200),
                )
                if self.rt_seq is None:
                    break  # not synced yet: its first sync fetches everything
                for message in answer["messages"]:
                    if message["seq"] > self.rt_seq:
                        self._pending[message["seq"]] = message
                while self.rt_seq + 1 in self._pending:
                    self.rt_seq += 1
                    self._emit(
                        {"type": "message", "room_id": self.rt_room_id, "message": self._pending.pop(self.rt_seq)}
                    )
                for reader, seq in answer["read"].items():
                    self._emit({"type": "read", "room_id": self.rt_room_id, "reader": reader, "seq": seq})
                if not answer["more"] and not self._refetch:
                    break
        except ChatNotFound:
            self._emit_close(CLOSE_NOT_FOUND)
        except Exception:
            logger.exception("chat: catch-up failed room=%s", self.rt_room_id)
        finally:
            self._fetching -= 1
        self._drain()

    # --- frames -----------------------------------------------------------------------------

    def parse_request(self, message: dict) -> ChatRequest:
        return parse_chat_frame(message.get("text"))

    async def handle_request(self, request: ChatRequest) -> None:
        if request.type == "sync":
            await self._handle_sync(request)
        elif request.type == "send":
            await self._send_message(request)
        elif request.type == "read":
            await self._mark_read(request)

    def describe(self) -> str:
        return f"room={self.rt_room_id} user={self.rt_user_id}"

    async def _handle_sync(self, request: ChatRequest) -> None:
        self.take_sync()
        after = request.seq or 0
        self._fetching += 1
        try:
            answer = await database_sync_to_async(_messages_after)(
                room_id=self.rt_room_id, user_id=self.rt_user_id, after=after, limit=chat_setting("SYNC_MAX", 200)
            )
            messages = answer["messages"]
            self.rt_seq = messages[-1]["seq"] if messages else min(after, answer["seq"])
            self._emit({"type": "sync", "request_id": request.request_id, "room_id": self.rt_room_id, **answer})
        finally:
            self._fetching -= 1
        self._drain()

    async def _send_message(self, request: ChatRequest) -> None:
        allowed = rate_limit_take_local(
            key=f"chat-send:{self.rt_user_id}",
            rate=chat_setting("MESSAGE_RATE_PER_S", 1.0),
            burst=chat_setting("MESSAGE_BURST", 10),
        )
        if not allowed:
            raise RateLimited("메시지를 너무 빨리 보내고 있어요. 잠시 후 다시 보내 주세요.")
        result, payload = await money_call(_send)(
            session_key=self._session_key(),
            user_id=self.rt_user_id,
            room_id=self.rt_room_id,
            text=request.text,
            client_id=request.request_id,
        )
        ack = {
            "type": "ack",
            "request_id": request.request_id,
            "seq": result.message.seq,
            "duplicate": result.duplicate,
            "warning": services.SAFE_PAY_WARNING if result.warning else None,
        }
        self._emit(ack)
        # Our own message reaches this socket even when the bus is down (a gap is read back).
        if self.rt_seq is not None:
            self._offer([payload])

    async def _mark_read(self, request: ChatRequest) -> None:
        mark, total = await money_call(_read)(
            session_key=self._session_key(), user_id=self.rt_user_id, room_id=self.rt_room_id, seq=request.seq
        )
        # The header badge, without a page's HTTP re-check after each message it showed.
        self._emit({"type": "unread", "room_id": self.rt_room_id, "seq": mark, "total": total})

    async def send_error(self, error: DomainError, request_id: str | None) -> None:
        self._emit(self.error_payload(error, request_id))
        if error.code == "chat_not_found":
            self._emit_close(CLOSE_NOT_FOUND)
