"""Sockets for native clients: `?ticket=` instead of a cookie (issue 21 #3).

A phone app has no session cookie and sends no Origin header, and the site's socket stack
(neighborbid/asgi.py) refuses a handshake without an allowed Origin. So a socket whose URL
carries `ticket=` (from POST /api/v1/ws-ticket) takes another way in:

- the ticket is redeemed once (accounts.services.ws_ticket_redeem: GETDEL in Redis, 30 s);
- the credential it names (the app's device token, or the site session it was made from) is
  checked like a session (accounts.selectors.session_user) and becomes the socket's credential
  for every later re-check (a revoked device ends the socket's powers as a logout ends a
  session's);
- no Origin is needed: a ticket is not ambient (no browser attaches it by itself), so another
  site's page cannot use the victim's;
- a bad, used or expired ticket is accepted then closed with 4401, readable by the client.

A socket without `ticket=` goes the site's way, unchanged (Origin check, session cookie)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from accounts.selectors import session_user
from accounts.services import ws_ticket_redeem
from neighborbid.errors import DomainError

CLOSE_LOGIN = 4401


def _ticket(scope: dict[str, Any]) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ticket")
    return values[0] if values else None


def _redeem(ticket: str) -> tuple[Any, str] | None:
    found = ws_ticket_redeem(ticket=ticket)
    if found is None:
        return None
    user_id, credential = found
    try:
        return session_user(session_key=credential, user_id=user_id), credential
    except DomainError:
        return None


class TicketOrOrigin:
    """The outermost websocket app: ticketed sockets to `ticketed`, the rest to `site`."""

    def __init__(self, *, ticketed: Any, site: Any) -> None:
        self.ticketed = ticketed
        self.site = site

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        ticket = _ticket(scope) if scope.get("type") == "websocket" else None
        if ticket is None:
            return await self.site(scope, receive, send)
        found = await database_sync_to_async(_redeem)(ticket)
        if found is None:
            message = await receive()
            if message.get("type") == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_LOGIN})
            return None
        user, credential = found
        return await self.ticketed({**scope, "user": user, "nb_credential": credential}, receive, send)
