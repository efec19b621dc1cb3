"""Live national auctions: the per-process fan-out (hub) behind the WebSocket consumer.

See docs/realtime.md for why it is built this way, and docs/protocol.md for the wire format.
"""

from auctions.realtime.hub import Hub, close_hub, get_hub

__all__ = ["Hub", "close_hub", "get_hub"]
