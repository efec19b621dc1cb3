"""Writing one prepared WebSocket frame to many sockets: the hub's wire (realtime.hub).

Under Daphne the same frame bytes go straight to every socket's transport, past Channels'
per-message session wrapper and autobahn's per-copy framing; elsewhere (tests'
communicators, other servers) through the innermost ASGI send."""

from __future__ import annotations

import functools

from realtime.config import realtime_setting


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
