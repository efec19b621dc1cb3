"""Chat in templates: message text as text (links clickable only when same-site), the
listing's questions section, the trade's chat link and its accepted meeting."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chat import selectors

register = template.Library()

_URL = re.compile(r"https?://[^\s<>\"']+")


def same_site(url: str) -> bool:
    """Is this absolute URL on one of our own hosts (ALLOWED_HOSTS, never a wildcard)?"""
    # Read it as a browser does (WHATWG URL): tabs and newlines are dropped and a backslash is a
    # slash in http(s), so "http://evil.example\\@our.host/" goes to evil.example. A user:password@
    # part is never ours either.
    url = re.sub(r"[\t\n\r]", "", url).replace("\\", "/")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if "@" in parts.netloc:
        return False
    if not host:
        return False
    for allowed in settings.ALLOWED_HOSTS:
        allowed = allowed.lower()
        if allowed in ("*", "testserver"):
            continue
        if allowed.startswith("."):
            if host == allowed[1:] or host.endswith(allowed):
                return True
        elif host == allowed:
            return True
    return False


@register.filter
def chat_text(value) -> SafeString:
    """Escape everything; turn only same-site http(s) links into anchors. Line breaks kept by
    CSS (white-space: pre-wrap)."""
    text = str(value or "")
    out, last = [], 0
    for match in _URL.finditer(text):
        out.append(escape(text[last : match.start()]))
        url = match.group()
        if same_site(url):
            out.append(f'<a href="{escape(url)}" rel="nofollow noopener">{escape(url)}</a>')
        else:
            out.append(escape(url))
        last = match.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece escaped above


@register.inclusion_tag("chat/_questions.html", takes_context=True)
def listing_questions(context, auction):
    request = context.get("request")
    user = getattr(request, "user", None)
    page_number = request.GET.get("qpage", 1) if request is not None else 1
    page = selectors.listing_questions(auction_id=auction.pk, page=page_number)
    for question in page.object_list:
        question.asker_masked = selectors.asker_name(question)
    signed_in = user is not None and user.is_authenticated
    return {
        "auction": auction,
        "page": page,
        "user": user,
        "signed_in": signed_in,
        "is_seller": signed_in and auction.seller_id == user.pk,
        "can_ask": signed_in and auction.seller_id != user.pk and not auction.is_ended and not user.is_suspended,
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("chat/_trade_chat.html", takes_context=True)
def trade_chat(context, auction):
    """For the buyer and the seller of a sold listing: the way to the trade's chat room and
    the accepted meeting."""
    request = context.get("request")
    user = getattr(request, "user", None)
    trade = getattr(auction, "trade", None) if auction.status == "sold" else None
    if trade is None or user is None or not user.is_authenticated or user.pk not in (trade.buyer_id, trade.seller_id):
        return {"show": False}
    room = selectors.room_for_trade(trade_id=trade.pk)
    return {"show": True, "trade": trade, "room": room, "meeting": room.meeting if room else None}


@register.inclusion_tag("chat/_meeting.html")
def trade_meeting(trade):
    """The accepted meeting of a trade, for the trade page."""
    room = selectors.room_for_trade(trade_id=trade.pk)
    return {"room": room, "meeting": room.meeting if room else None}
