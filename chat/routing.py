"""The chat room's WebSocket route (before the auction routes' catch-all in neighborbid.asgi)."""

from __future__ import annotations

from django.urls import path

from chat.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<int:room_id>/", ChatConsumer.as_asgi()),
]
