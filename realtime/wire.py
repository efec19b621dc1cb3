"""Writing one prepared WebSocket frame to many sockets: the hub's wire (realtime.hub).

Under Daphne the same frame bytes go straight to every socket's transport, past Channels'
per-message session wrapper and autobahn's per-copy framing; elsewhere (tests'
communicators, other servers) through the innermost ASGI send."""

from __future__ import annotations

import asyncio
import functools
import logging

from realtime.config import realtime_setting

logger = logging.getLogger("neighborbid.realtime")


class _Out:
    """Where a socket's frames go. Under Daphne the ASGI send chain (Channels' session wrapper
    → Daphne's handle_reply) ends at an autobahn protocol: frames are written to its transport
    directly. Otherwise (tests' communicators, other servers) the innermost ASGI send, past
    the session wrapper, which does nothing for `websocket.send` but look at the session."""

    __slots__ = ("send", "proto")

    def __init__(self, send, proto) -> None:
        self.send = send
        self.proto = proto


def _innermost_send(send):
    for _ in range(16):  # Channels' middlewares keep the next send as `real_send`
        inner = getattr(getattr(send, "__self__", None), "real_send", None)
        if inner is None:
            break
        send = inner
    return send


@functools.cache
def _autobahn():
    """(WebSocketServerProtocol, PreparedMessage, twisted tcp.Connection), or None."""
    try:
        from autobahn.websocket.protocol import PreparedMessage, WebSocketServerProtocol
        from twisted.internet.tcp import Connection
    except ImportError:  # pragma: no cover - daphne depends on both
        return None
    return WebSocketServerProtocol, PreparedMessage, Connection


def resolve_out(sock) -> _Out:
    send = _innermost_send(sock.base_send)
    proto = None
    if realtime_setting("DIRECT_WRITE", True) and isinstance(send, functools.partial) and send.args:
        classes = _autobahn()
        candidate = send.args[0]
        if classes is not None and isinstance(candidate, classes[0]):
            proto = candidate
    return _Out(send, proto)


def ws_frame(data: bytes) -> bytes:
    """One unmasked, uncompressed text frame (autobahn's own framing, done once)."""
    return _autobahn()[1](data, False, False, True).payloadHybi


_SENT, _PENDING, _CLOSED = 0, 1, 2


def write_frame(proto, frame: bytes, text: str, *, may_skip: bool) -> int:
    """Write a prepared frame to an autobahn server protocol. `may_skip`: leave a socket whose
    previous write is still unsent alone (_PENDING; it is caught up later with the newest state).

    On a plain TCP transport with nothing buffered the frame goes to the kernel with one
    send(); whatever the kernel does not take (and everything when something is buffered, so
    the order on the wire is the order of the calls) goes through Twisted's own buffer."""
    if proto.state != proto.STATE_OPEN:
        return _CLOSED
    transport = proto.transport
    if proto.send_queue or proto._perMessageCompress is not None:
        proto.sendMessage(text.encode(), False)  # autobahn's own path (chopped sends, compression)
        return _SENT
    buffered = len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    if buffered:
        if may_skip:
            return _PENDING
        transport.write(frame)
        return _SENT
    if not isinstance(transport, _autobahn()[2]) or transport.disconnecting or not transport.connected:
        transport.write(frame)
        return _SENT
    try:
        sent = transport.socket.send(frame)
    except (BlockingIOError, InterruptedError):
        sent = 0
    except OSError:
        transport.write(frame)  # Twisted notices the lost connection itself
        return _SENT
    if sent < len(frame):
        transport.write(frame[sent:])
    return _SENT


class _Text:
    """A one-off text (ended, notification) with its frame, built at most once."""

    __slots__ = ("text", "frame", "lagging")

    def __init__(self, text: str) -> None:
        self.text, self.frame, self.lagging = text, None, False


async def write_all(group: list, seq: int | None, item, *, may_skip: bool, yield_every: int) -> None:
    """Write one text to every ready socket of `group` (for a state: only to sockets that
    hold an older one). The text is encoded and framed once; the check of a socket's
    `rt_last_seq` and its write happen with no suspension in between, so a socket never
    gets an older state after a newer one, whoever else (snapshot, ack) writes to it."""
    # The text and frame of *this* write, held locally: a newer state arriving while the
    # flush yields replaces the feed's text and frame, and must not reach the sockets after
    # the yield under this seq (they would get it again with its own seq: issue 25 #2).
    text = item.text
    frame = item.frame
    message = None
    written = 0
    for sock in group:
        if not sock.rt_ready or (seq is not None and sock.rt_last_seq >= seq):
            continue
        out = sock._rt_out
        if out.proto is not None:
            if frame is None:
                frame = ws_frame(text.encode())
                if item.text is text:
                    item.frame = frame
            result = write_frame(out.proto, frame, text, may_skip=may_skip)
            if result == _PENDING:
                item.lagging = True
                continue
            if seq is not None:
                sock.rt_last_seq = seq
        else:
            if message is None:
                message = {"type": "websocket.send", "text": text}
            if seq is not None:
                sock.rt_last_seq = seq
            try:
                await out.send(message)
            except Exception as exc:  # a closing socket must not stop the others
                logger.debug("realtime write failed: %s", exc)
        written += 1
        if written % yield_every == 0:
            await asyncio.sleep(0)  # acks and refusals of other sockets go first
