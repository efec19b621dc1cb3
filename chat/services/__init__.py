"""Chat writes: listing questions and answers, the private room of a trade (messages, photos,
meeting proposals, read marks), and its safety (hide for oneself, block, report, close).

Each service re-reads the acting user (accounts.selectors.access_user), runs one
transaction.atomic (room_mark_read, one UPDATE, runs that statement on its own: it is atomic
by itself), raises a DomainError before anything is written, and sends its live events
only after commit: a room's messages, meetings and closing through the channel layer's group
`chat.room.<id>` (auctions.events.send_room_event_on_commit; both participants' chat sockets of
that room are in it), a read mark to the other side's group `user.<id>`.

A room's messages are numbered by the room's `seq`, taken under the room's row lock, so the
numbers have no gaps and every side sees the same order (docs/protocol.md, "Chat").
"""

from chat.services._common import MODERATE_PERM, SAFE_PAY_WARNING, SendResult, contact_warning
from chat.services.messages import meeting_accept, meeting_propose, message_send, message_send_photo
from chat.services.questions import question_answer, question_ask
from chat.services.rooms import chat_room_ensure, chat_room_open_for_trade, room_mark_read
from chat.services.safety import (
    chat_report_create,
    chat_report_resolve,
    message_hide,
    room_close,
    user_block,
    user_unblock,
)

__all__ = [
    "MODERATE_PERM",
    "SAFE_PAY_WARNING",
    "SendResult",
    "chat_report_create",
    "chat_report_resolve",
    "chat_room_ensure",
    "chat_room_open_for_trade",
    "contact_warning",
    "meeting_accept",
    "meeting_propose",
    "message_hide",
    "message_send",
    "message_send_photo",
    "question_answer",
    "question_ask",
    "room_close",
    "room_mark_read",
    "user_block",
    "user_unblock",
]
