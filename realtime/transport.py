"""The WebSocket transport's limit on incoming messages (issue 9 #2).

Daphne (autobahn) refuses a message larger than its `--websocket_max_message_size` (and a frame
larger than `--websocket_max_frame_size`; both 1 MiB = 1,048,576 bytes by default, which
this project keeps). Out of the box autobahn then *drops the TCP connection* (`failByDrop`):
the client sees 1006 and, as docs/protocol.md tells it for 1006, reconnects — in a loop if it
keeps sending the same thing. Here the server process closes such a socket properly instead:
close code 1009 with the reason "message too big", which the client must not retry as is.
Frames over MAX_FRAME_CHARS but within the transport limit still get the `frame_too_large`
error frame and the socket stays open (realtime.frames).

Installed when this module is imported inside a Daphne process (auctions.consumers imports it;
Daphne has loaded the application before it builds its WebSocket factory)."""

from __future__ import annotations

import sys

CLOSE_MESSAGE_TOO_BIG = 1009
REASON = "message too big"


def install() -> bool:
    """Patch Daphne's WebSocket factory and protocol (idempotent). False outside Daphne."""
    if "daphne.server" not in sys.modules:
        return False
    from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

    if getattr(WebSocketFactory, "_nb_close_on_oversize", False):
        return True
    reset = WebSocketFactory.resetProtocolOptions

    def reset_protocol_options(self) -> None:
        reset(self)
        # a protocol failure (an oversize message) closes with a close frame, not a dropped TCP
        self.failByDrop = False

    def max_message_size_exceeded(self, msg_size, max_msg_size, reason) -> None:
        self._fail_connection(CLOSE_MESSAGE_TOO_BIG, REASON)

    WebSocketFactory.resetProtocolOptions = reset_protocol_options
    WebSocketProtocol._max_message_size_exceeded = max_message_size_exceeded
    WebSocketFactory._nb_close_on_oversize = True
    return True
