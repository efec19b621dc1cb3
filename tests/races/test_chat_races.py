"""A room's messages are numbered under the room's row lock (chat.locks.room_lock): real threads
behind a barrier on PostgreSQL. Both sides writing at once get gapless, distinct numbers; a
resend racing its own first send (a reconnecting client) is one message and two identical
answers, never an IntegrityError (a 500, or a `server_error` frame)."""

from __future__ import annotations

import pytest

from chat import services
from chat.models import Message, Room
from chat.services import messages
from tests.chat.conftest import make_sale
from tests.races.conftest import overlapped

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

ROUNDS = 10


def test_both_sides_writing_at_once_get_gapless_distinct_numbers(concurrently):
    # given a trade's room
    sale = make_sale()
    writers = [sale.buyer, sale.seller] * 3
    overlapping = 0
    for round_ in range(ROUNDS):
        # when six messages are sent at the same instant, three from each side
        outcomes = concurrently(
            [
                lambda u=user, t=f"{round_}-{n}": services.message_send(actor=u, room_id=sale.room.pk, text=t)
                for n, user in enumerate(writers)
            ]
        )
        overlapping += overlapped(outcomes)
        # then every one was written, and the numbers run on without a gap or a repeat
        assert [o.error for o in outcomes] == [None] * len(writers)
        seqs = sorted(o.value.message.seq for o in outcomes)
        first = round_ * len(writers) + 1
        assert seqs == list(range(first, first + len(writers)))
    room = Room.objects.get(pk=sale.room.pk)
    assert room.seq == ROUNDS * len(writers) == Message.objects.filter(room=room).count()
    assert overlapping >= ROUNDS // 2, f"only {overlapping} of {ROUNDS} rounds ran their writers at the same time"


def test_a_resend_racing_its_first_send_is_one_message_and_no_error(concurrently, monkeypatch):
    sale = make_sale()
    # count the answers that came from the constraint (the twin committed while we waited)
    caught = []
    real_twin = messages._twin

    def counting_twin(*args, **kwargs):
        caught.append(1)
        return real_twin(*args, **kwargs)

    monkeypatch.setattr(messages, "_twin", counting_twin)  # where message_send looks it up
    overlapping = 0
    for round_ in range(ROUNDS):
        client_id = f"twin-{round_}"
        # when the same request (one client id) arrives twice at the same instant
        outcomes = concurrently(
            [
                lambda c=client_id: services.message_send(
                    actor=sale.buyer, room_id=sale.room.pk, text="안녕", client_id=c
                )
                for _ in range(2)
            ]
        )
        overlapping += overlapped(outcomes)
        # then neither fails, both answers name the one message, and one of them is the resend
        assert [o.error for o in outcomes] == [None, None]
        assert outcomes[0].value.message.pk == outcomes[1].value.message.pk
        assert sorted(o.value.duplicate for o in outcomes) == [False, True]
        assert Message.objects.filter(room=sale.room, client_id=client_id).count() == 1
    # and the constraint's path ran: the lock's own resend check cannot see such a twin
    assert caught, "no round raced past the lock's resend check"
    assert overlapping >= ROUNDS // 2, f"only {overlapping} of {ROUNDS} rounds sent the twins at the same time"
