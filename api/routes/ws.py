"""A one-time, 30-second ticket for a native WebSocket client (api/websocket.py)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from accounts.models import DeviceToken
from accounts.selectors import DEVICE_CREDENTIAL_PREFIX
from accounts.services import WS_TICKET_TTL_S, device_token_hash, ws_ticket_create
from api.auth import actor
from api.schemas import TicketOut, problems
from neighborbid.errors import LoginRequired

router = Router(tags=["live"])


def _credential(request: HttpRequest) -> str:
    """What the socket will hold: this device's token, or this browser's session."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        token_id = (
            DeviceToken.objects.filter(token_hash=device_token_hash(token.strip()), revoked_at__isnull=True)
            .values_list("pk", flat=True)
            .first()
        )
        if token_id is None:
            raise LoginRequired()
        return f"{DEVICE_CREDENTIAL_PREFIX}{token_id}"
    session_key = request.session.session_key
    if not session_key:
        raise LoginRequired()
    return session_key


@router.post("/ws-ticket", response={201: TicketOut, **problems(401, 403)}, summary="실시간 연결 티켓")
def ws_ticket(request: HttpRequest):
    """Open `/ws/auctions/<id>/?ticket=…` or `/ws/chat/<room>/?ticket=…` within 30 seconds, once.
    No cookie and no Origin header needed; the socket then acts for this device (revoking the
    device, a password change or a suspension end its powers as a logout ends a page's)."""
    ticket = ws_ticket_create(actor=actor(request), credential=_credential(request))
    return Status(201, TicketOut(ticket=ticket, expires_in=WS_TICKET_TTL_S))
