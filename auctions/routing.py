"""WebSocket routes. Only national auctions are live (`is_national`); the consumer refuses a
local or unknown auction with a close code (docs/protocol.md)."""

from __future__ import annotations

from django.urls import path, re_path

from auctions.consumers import AuctionBidConsumer, AuctionConsumer, NotFoundConsumer

websocket_urlpatterns = [
    path("ws/auctions/<int:auction_id>/", AuctionConsumer.as_asgi()),
    # the bid door: a signed-in client's bids, acks and errors only (no states, no personal events)
    path("ws/auctions/<int:auction_id>/bid/", AuctionBidConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),
]
