"""Chat test helpers: a sale through the real services (buy-now opens the trade, the trade
opens its room) and a snapshot of everything chat writes, so a refusal can be shown to have
changed nothing."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import User
from auctions.services import auction_buy_now
from chat.models import Answer, Block, ChatReport, Message, MessageHide, Question, Room
from notifications.models import Notification
from tests import factories as f
from trades.models import Trade


@dataclass
class Sale:
    buyer: User
    seller: User
    trade: Trade
    room: Room


def make_sale(*, seller: User | None = None, buyer: User | None = None, title: str = "원목 의자") -> Sale:
    seller = seller or f.make_user(nickname="판매왕")
    buyer = buyer or f.make_user(nickname="구매자", balance=100_000)
    auction = f.make_auction(seller=seller, start_price=10_000, buy_now_price=30_000, title=title)
    auction_buy_now(auction_id=auction.pk, actor=buyer, request_id=f.rid())
    trade = Trade.objects.get(auction=auction)
    return Sale(buyer=buyer, seller=seller, trade=trade, room=Room.objects.get(trade=trade))


def chat_world() -> dict:
    return {
        "messages": list(Message.objects.order_by("id").values_list("id", "seq", "text", "accepted_at")),
        "rooms": list(
            Room.objects.order_by("id").values_list(
                "id", "seq", "status", "buyer_read_seq", "seller_read_seq", "meeting_id"
            )
        ),
        "questions": Question.objects.count(),
        "answers": Answer.objects.count(),
        "blocks": Block.objects.count(),
        "hides": MessageHide.objects.count(),
        "reports": ChatReport.objects.count(),
        "notifications": Notification.objects.count(),
        "trades": list(Trade.objects.order_by("id").values_list("id", "status")),
    }


# The live-door tests share the realtime tests' cleanup (each test's hub and rate-limit client,
# the database pool closed before the test database is dropped).
from tests.realtime.conftest import _close_db_pool_at_end, _realtime_cleanup  # noqa: E402, F401
