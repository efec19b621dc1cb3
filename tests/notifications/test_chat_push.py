"""Chat messages reach a neighbour whose page is closed (issue 22): one push per message to the
other side, through the same outbox and sender, never while that neighbour has the room open
on a live socket (asked at send time: realtime/presence.py); and per-device results, so a retry
reaches only the devices that did not take it yet."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import services as chat
from notifications.models import PushJob, PushPreference, PushSubscription
from notifications.push import push_send_once
from realtime import presence
from tests.chat.conftest import make_sale
from tests.chat.test_consumer import joined
from tests.notifications.test_push import NOON_KST, assert_vapid, push_service, subscribe, vapid  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

db = database_sync_to_async


def test_a_message_to_a_closed_room_pushes_once_with_the_room_topic(push_service, vapid):  # noqa: F811
    # given a sale whose seller has push on, and no chat page open
    sale = make_sale()
    browser = subscribe(sale.seller, push_service, "/push/seller")
    # when the buyer writes
    sent = chat.message_send(
        actor=sale.buyer, room_id=sale.room.pk, text="안녕하세요! 의자 아직 있나요? 오늘 저녁에 가능해요"
    )
    job = PushJob.objects.get()
    assert (job.user_id, job.kind, job.room_id, job.message_id) == (
        sale.seller.pk,
        "chat",
        sale.room.pk,
        sent.message.pk,
    )
    result = push_send_once(now=NOON_KST)
    # then one push, signed and encrypted, normal urgency, a day to live, the room's topic
    assert result.sent == 1 and len(push_service.received) == 1
    got = push_service.received[0]
    assert (got.headers["urgency"], got.headers["ttl"], got.headers["topic"]) == (
        "normal",
        "86400",
        f"chat-{sale.room.pk}",
    )
    assert_vapid(got, vapid, push_service)
    assert browser.decrypt(got.body) == {
        "title": "구매자님의 메시지",
        "body": "안녕하세요! 의자 아직 있나요? 오늘 저녁에 가능해요",
        "url": f"/chat/{sale.room.pk}/",
        "tag": f"chat-{sale.room.pk}",
        "kind": "chat",
    }
    # and the sender's own devices get nothing (the job was for the other side only)
    assert PushJob.objects.filter(user=sale.buyer).count() == 0


def test_a_long_message_is_cut_for_the_lock_screen(push_service, vapid):  # noqa: F811
    from notifications.push import CHAT_PREVIEW, chat_push_payload

    sale = make_sale()
    long = chat.message_send(actor=sale.buyer, room_id=sale.room.pk, text="가" * 200).message
    body = chat_push_payload(long)["body"]
    assert len(body) == CHAT_PREVIEW and body.endswith("…")


def test_chat_push_can_be_turned_off_but_quiet_hours_do_not_hold_it(push_service, vapid):  # noqa: F811
    # a message from the neighbour one trades with is about the trade: quiet hours let it through
    sale = make_sale()
    subscribe(sale.seller, push_service, "/push/seller")
    night = NOON_KST.replace(hour=23)
    chat.message_send(actor=sale.buyer, room_id=sale.room.pk, text="늦게 죄송해요")
    assert push_send_once(now=night).sent == 1
    # turned off on the account page: skipped
    PushPreference.objects.create(user=sale.seller, disabled_kinds=["chat"])
    chat.message_send(actor=sale.buyer, room_id=sale.room.pk, text="내일 뵐게요")
    assert push_send_once(now=NOON_KST).skipped == 1
    assert len(push_service.received) == 1


async def test_no_push_while_the_room_is_open_on_a_live_socket_and_one_after_it_closed(push_service, vapid):  # noqa: F811
    # given a seller with push on who has the room open (a real chat socket through the ASGI stack)
    sale = await db(make_sale)()
    await db(subscribe)(sale.seller, push_service, "/push/seller")
    sock, _, _ = await joined(sale.room.pk, sale.seller)
    for _ in range(50):  # the socket records its presence off the loop, at once on connect
        if await db(presence.presence_in_room)(room_id=sale.room.pk, user_id=sale.seller.pk):
            break
        await asyncio.sleep(0.02)
    # when the buyer writes while the page is open
    await db(chat.message_send)(actor=sale.buyer, room_id=sale.room.pk, text="지금 보고 계세요?")
    first = await db(push_send_once)(now=timezone.now())
    # then nothing is pushed (the open page shows it), and the job is done with
    assert (first.sent, first.skipped) == (0, 1)
    assert push_service.received == []
    # when the page closes and the buyer writes again
    await sock.disconnect()
    assert not await db(presence.presence_in_room)(room_id=sale.room.pk, user_id=sale.seller.pk)
    await db(chat.message_send)(actor=sale.buyer, room_id=sale.room.pk, text="이따 연락 주세요")
    second = await db(push_send_once)(now=timezone.now())
    # then this one is pushed
    assert second.sent == 1 and [r.path for r in push_service.received] == ["/push/seller"]


def test_presence_expires_when_a_socket_dies_without_closing():
    presence.presence_enter(room_id=999_001, user_id=7, token="t1", now=1_000.0)
    assert presence.presence_in_room(room_id=999_001, user_id=7, now=1_000.0 + presence.TTL_S - 1)
    assert not presence.presence_in_room(room_id=999_001, user_id=7, now=1_000.0 + presence.TTL_S + 1)


def test_a_retry_reaches_only_the_devices_that_did_not_take_it(push_service, vapid):  # noqa: F811
    # given a seller with three devices: one takes it, one is gone, one is busy for a minute
    sale = make_sale()
    for path in ("/push/phone", "/push/old", "/push/tablet"):
        subscribe(sale.seller, push_service, path)
    push_service.answers["/push/old"] = (410, {})
    push_service.answers["/push/tablet"] = (429, {"Retry-After": "60"})
    chat.message_send(actor=sale.buyer, room_id=sale.room.pk, text="사진 보내드릴게요")
    now = timezone.now()
    first = push_send_once(now=now)
    # then: the phone has it, the old one is deleted, the tablet waits a minute
    assert (first.gone, first.retried) == (1, 1)
    job = PushJob.objects.get()
    phone = PushSubscription.objects.get(endpoint__endswith="/push/phone")
    assert job.status == PushJob.Status.PENDING and job.done_sub_ids == [phone.pk]
    assert job.due_at == now + datetime.timedelta(seconds=60)
    assert not PushSubscription.objects.filter(endpoint__endswith="/push/old").exists()
    # when the tablet is back and the job is due again
    push_service.answers.pop("/push/tablet")
    second = push_send_once(now=now + datetime.timedelta(seconds=61))
    # then only the tablet got it the second time: nobody twice
    assert second.sent == 1
    paths = [r.path for r in push_service.received]
    assert paths.count("/push/phone") == 1 and paths.count("/push/tablet") == 2
    assert PushJob.objects.get().status == PushJob.Status.SENT


def test_without_redis_presence_lives_in_the_process(settings):
    # the embedded default: one process, the push sender a thread of it
    settings.REDIS_URL = ""
    presence.presence_enter(room_id=5, user_id=6, token="tab-1")
    presence.presence_enter(room_id=5, user_id=6, token="tab-2")
    presence.presence_leave(room_id=5, user_id=6, token="tab-1")
    assert presence.presence_in_room(room_id=5, user_id=6)  # the other tab still shows it
    presence.presence_leave(room_id=5, user_id=6, token="tab-2")
    assert not presence.presence_in_room(room_id=5, user_id=6)


async def test_a_page_closed_while_its_presence_was_being_written_does_not_stay_open(monkeypatch):
    import time

    from chat import consumers

    # given a Redis that answers the socket's presence write slowly
    def slow_enter(**kwargs) -> None:
        time.sleep(0.4)
        presence.presence_enter(**kwargs)

    monkeypatch.setattr(consumers, "presence_enter", slow_enter)
    sale = await db(make_sale)()
    # when the seller opens the room and closes it while that write is still on its way
    sock, _, _ = await joined(sale.room.pk, sale.seller)
    await sock.disconnect()
    await asyncio.sleep(0.6)
    # then the room does not count as open (the write landed before the leave, not after it)
    assert not await db(presence.presence_in_room)(room_id=sale.room.pk, user_id=sale.seller.pk)


def test_the_chat_write_commits_before_its_push_job_is_written(push_service, vapid):  # noqa: F811
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # given a seller with push on
    sale = make_sale()
    subscribe(sale.seller, push_service, "/push/seller")
    # when the buyer writes
    with CaptureQueriesContext(connection) as ctx:
        chat.message_send(actor=sale.buyer, room_id=sale.room.pk, text="안녕하세요")
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    # then the room's lock and the message's write are committed first, and the push job is one
    # INSERT after COMMIT, outside the room's lock
    commit = sql.index("COMMIT")
    assert not any("pushjob" in s or "pushsubscription" in s for s in sql[:commit]), "\n".join(sql)
    assert any("FOR UPDATE OF r" in s for s in sql[:commit]), "\n".join(sql)
    after = sql[commit + 1 :]
    assert len(after) == 1 and after[0].startswith("INSERT INTO notifications_pushjob"), "\n".join(sql)
    assert PushJob.objects.filter(user=sale.seller, kind="chat").count() == 1
