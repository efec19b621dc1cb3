"""The Web Push sender (issue 22): drains the push outbox (PushJob) with pywebpush.

Flow: `notification_create` (and the bid's SQL writer, auctions/services/bidding.py) register one
INSERT for after commit (notifications.services.push_jobs_on_commit); `push_send_once` claims
due jobs (SKIP LOCKED, a lease so a killed worker's jobs come back), decides per job (kind turned
off, quiet hours, the outbid throttle), and POSTs the encrypted payload to every subscription of
the user in a small thread pool with a short timeout, so one dead push service never holds up the
others. Each device's answer is written as it arrives (a device that took the push is never sent
it again, even by the next worker after a kill), and the leases of jobs still sending are renewed
while the pass runs. 404/410 delete the subscription; 429/5xx/network errors move the job's
`due_at` by the push service's Retry-After (or an exponential backoff) and try again later, for
the devices that did not take it only.

Runs in `manage.py run_worker` (a thread beside the settlement loop) and in the embedded loop
(auctions/embedded.py) when there is no Redis. VAPID keys come from settings (VAPID_PRIVATE_KEY,
VAPID_PUBLIC_KEY, VAPID_SUBJECT); without a private key nothing is sent and jobs wait."""

from __future__ import annotations

import datetime
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from notifications.models import Notification, PushJob, PushPreference, PushSubscription
from realtime.presence import presence_in_room

logger = logging.getLogger("neighborbid.push")

KST = ZoneInfo("Asia/Seoul")
K = Notification.Kind
# high: money moved or is about to (outbid, won); normal: a trade or a question; low: reminders
URGENCY: dict[str, str] = {K.OUTBID: "high", K.WON: "high", K.SOLD: "high", K.ENDING_SOON: "low"}
# seconds a push service keeps an undelivered message: an outbid is stale in minutes
TTL: dict[str, int] = {K.OUTBID: 15 * 60, K.ENDING_SOON: 10 * 60, K.WON: 24 * 3600, K.CHAT: 24 * 3600}
DEFAULT_TTL = 12 * 3600
# kinds about money or a trade: pushed even in quiet hours
MONEY_KINDS = frozenset(
    {
        K.OUTBID,
        K.WON,
        K.SOLD,
        K.CANCELLED,
        K.SUSPENDED,
        K.TRADE_SHIPPED,
        K.TRADE_HANDED_OVER,
        K.TRADE_COMPLETED,
        K.TRADE_REFUNDED,
        K.TRADE_DISPUTED,
        K.TRADE_RESOLVED,
        K.CHAT,  # a message from the neighbour one trades with is about the trade
    }
)
OUTBID_THROTTLE = datetime.timedelta(minutes=1)
# a claimed job comes back this long after its worker died (renewed while its sends are out)
LEASE = datetime.timedelta(seconds=60)
MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 3600
SEND_TIMEOUT = (3.05, 5)  # connect, read: a hung push service costs one pool thread this long
KEEP_DONE = datetime.timedelta(days=1)


@dataclass
class PushPass:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    gone: int = 0  # subscriptions deleted (404/410)


@lru_cache(maxsize=4)
def _vapid(private_key: str) -> Vapid:
    return Vapid.from_string(private_key=private_key)


def push_topic(job: PushJob) -> str | None:
    """A newer push with the same Topic replaces an undelivered older one at the push service."""
    if job.kind == K.OUTBID and job.auction_id:
        return f"outbid-{job.auction_id}"
    if job.kind == K.ENDING_SOON and job.auction_id:
        return f"ending-{job.auction_id}"
    if job.kind == K.CHAT and job.room_id:
        return f"chat-{job.room_id}"  # the newest undelivered message of a room stands for the rest
    return None


def push_payload(note: Notification) -> dict[str, object]:
    """What the service worker shows: no secret, only the title, the 해요체 text, where to go."""
    url = f"/auctions/{note.auction_id}/" if note.auction_id else "/accounts/notifications/"
    tag = f"{note.kind}-{note.auction_id}" if note.auction_id else f"{note.kind}-{note.pk}"
    return {"title": "동네경매", "body": note.message, "url": url, "tag": tag, "kind": note.kind}


CHAT_PREVIEW = 60  # characters of a message shown on the lock screen


def chat_push_payload(message: Any) -> dict[str, object]:
    """A chat message's push: who wrote, the start of what they wrote (or what they sent), the
    room. No secret beyond what the lock screen of the addressee may show."""
    sender = message.sender
    name = (sender.nickname or sender.username) if sender is not None else "동네경매"
    if message.kind == "photo":
        body = "사진을 보냈어요."
    elif message.kind == "meeting":
        body = "거래 약속을 제안했어요."
    else:
        text = " ".join(message.text.split())
        body = text if len(text) <= CHAT_PREVIEW else text[: CHAT_PREVIEW - 1] + "…"
    return {
        "title": f"{name}님의 메시지",
        "body": body,
        "url": f"/chat/{message.room_id}/",
        "tag": f"chat-{message.room_id}",
        "kind": K.CHAT,
    }


def _in_quiet_hours(pref: PushPreference | None, now: datetime.datetime) -> bool:
    start = pref.quiet_start if pref else datetime.time(21, 0)
    end = pref.quiet_end if pref else datetime.time(8, 0)
    local = now.astimezone(KST).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def _skip_reason(job: PushJob, now: datetime.datetime) -> str | None:
    pref = PushPreference.objects.filter(user_id=job.user_id).first()
    if pref is not None and job.kind in pref.disabled_kinds:
        return "kind off"
    if job.kind not in MONEY_KINDS and _in_quiet_hours(pref, now):
        return "quiet hours"
    if job.kind == K.CHAT and job.room_id and presence_in_room(room_id=job.room_id, user_id=job.user_id):
        return "room open"  # their open page shows it already
    if job.kind == K.OUTBID:
        recent = PushJob.objects.filter(
            user_id=job.user_id,
            kind=K.OUTBID,
            auction_id=job.auction_id,
            status=PushJob.Status.SENT,
            sent_at__gt=now - OUTBID_THROTTLE,
        ).exclude(pk=job.pk)
        if recent.exists():
            return "outbid throttle"
    return None


@dataclass
class _Result:
    sub_id: int
    status: int  # HTTP status, 0 for a network error
    retry_after: float | None = None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from email.utils import parsedate_to_datetime

        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def _send_one(sub: PushSubscription, data: str, headers: dict[str, str], ttl: int) -> _Result:
    try:
        webpush(
            {"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}},
            data=data,
            vapid_private_key=_vapid(settings.VAPID_PRIVATE_KEY),
            vapid_claims={"sub": settings.VAPID_SUBJECT},  # a fresh dict: pywebpush fills aud/exp in
            ttl=ttl,
            headers=headers,
            timeout=SEND_TIMEOUT,  # requests accepts (connect, read)
        )
        return _Result(sub.pk, 201)
    except WebPushException as exc:
        response = exc.response
        status = getattr(response, "status_code", 0) or 0
        header = response.headers.get("Retry-After") if response is not None else None
        return _Result(sub.pk, int(status), _retry_after(header))
    except (requests.RequestException, OSError) as exc:
        logger.warning("push: %s unreachable: %s", sub.endpoint[:60], exc)
        return _Result(sub.pk, 0)


def _claim(batch: int, now: datetime.datetime) -> list[PushJob]:
    due = PushJob.objects.filter(status=PushJob.Status.PENDING, due_at__lte=now)
    if not due.exists():  # a plain read first: no write transaction (on SQLite a write lock) when idle
        return []
    with transaction.atomic():
        jobs = list(
            PushJob.objects.select_for_update(skip_locked=True)
            .filter(status=PushJob.Status.PENDING, due_at__lte=now)
            .order_by("due_at", "id")[:batch]
        )
        if jobs:
            PushJob.objects.filter(pk__in=[j.pk for j in jobs]).update(due_at=now + LEASE, attempts=F("attempts") + 1)
    for job in jobs:
        job.attempts += 1
    return jobs


def push_send_once(*, batch: int = 50, now: datetime.datetime | None = None) -> PushPass:
    """One pass over due push jobs. Safe to run in several workers (SKIP LOCKED + a lease)."""
    result = PushPass()
    if not getattr(settings, "VAPID_PRIVATE_KEY", ""):
        return result
    now = now or timezone.now()
    jobs = _claim(batch, now)
    result.claimed = len(jobs)
    if not jobs:
        old = PushJob.objects.exclude(status=PushJob.Status.PENDING).filter(due_at__lt=now - KEEP_DONE)
        if old.exists():
            old.delete()
        return result
    notes = Notification.objects.in_bulk([j.notification_id for j in jobs if j.notification_id is not None])
    messages = _chat_messages([j.message_id for j in jobs if j.message_id is not None])
    subs_by_user: dict[int, list[PushSubscription]] = {}
    for sub in PushSubscription.objects.filter(user_id__in={j.user_id for j in jobs}).order_by("id"):
        subs_by_user.setdefault(sub.user_id, []).append(sub)
    work: list[tuple[PushJob, list[tuple[PushSubscription, str, dict[str, str], int]]]] = []
    for job in jobs:
        if job.kind == K.CHAT:
            message = messages.get(job.message_id) if job.message_id is not None else None
            payload = chat_push_payload(message) if message is not None else None
        else:
            note = notes.get(job.notification_id) if job.notification_id is not None else None
            payload = push_payload(note) if note is not None else None
        # a retry goes only to the devices that did not take it yet
        subs = [sub for sub in subs_by_user.get(job.user_id, []) if sub.pk not in set(job.done_sub_ids or [])]
        reason = "gone" if payload is None or not subs else _skip_reason(job, now)
        if reason is not None or payload is None:
            status = PushJob.Status.SENT if job.done_sub_ids and reason == "gone" else PushJob.Status.SKIPPED
            PushJob.objects.filter(pk=job.pk).update(status=status, due_at=now)
            result.skipped += 1
            continue
        headers = {"Urgency": URGENCY.get(job.kind, "normal")}
        topic = push_topic(job)
        if topic:
            headers["Topic"] = topic
        data = json.dumps(payload, ensure_ascii=False)
        ttl = TTL.get(job.kind, DEFAULT_TTL)
        work.append((job, [(sub, data, headers, ttl) for sub in subs]))
    if work:
        _send_and_record(work, now, result)
    return result


def _send_and_record(
    work: list[tuple[PushJob, list[tuple[PushSubscription, str, dict[str, str], int]]]],
    now: datetime.datetime,
    result: PushPass,
) -> None:
    """POST to every device of every claimed job in a small thread pool (HTTP only in the pool;
    the database is written from this thread). Each answer is recorded as it arrives: a device
    that took the push is written to its job at once, so a worker killed in the middle of a pass
    sends again only to the devices that had not answered yet. While sends are outstanding the
    leases of their jobs are renewed, so a slow pass (hung push services) is never taken over by
    a second worker that would send again to the devices this one is still sending to."""
    jobs = {job.pk: job for job, _sends in work}
    answers: dict[int, list[_Result]] = {job.pk: [] for job, _sends in work}
    left = {job.pk: len(sends) for job, sends in work}
    renew_every = LEASE.total_seconds() / 3
    started = renewed = time.monotonic()
    calls = sum(len(sends) for _job, sends in work)
    with ThreadPoolExecutor(max_workers=min(8, calls), thread_name_prefix="push") as pool:
        pending: dict[Future[_Result], tuple[int, int]] = {
            pool.submit(_send_one, *send): (job.pk, send[0].pk) for job, sends in work for send in sends
        }
        while pending:
            finished, _ = wait(pending, timeout=renew_every, return_when=FIRST_COMPLETED)
            for future in finished:
                job_id, sub_id = pending.pop(future)
                try:
                    answer = future.result()
                except Exception:  # _send_one catches what a push service can do; anything else
                    logger.exception("push: send to subscription %s failed", sub_id)
                    answer = _Result(sub_id, 0)
                job = jobs[job_id]
                answers[job_id].append(answer)
                left[job_id] -= 1
                if left[job_id] == 0:
                    _record(job, answers[job_id], now, result)
                elif 200 <= answer.status < 300:
                    job.done_sub_ids = sorted({*(job.done_sub_ids or []), sub_id})
                    PushJob.objects.filter(pk=job_id).update(done_sub_ids=job.done_sub_ids)
            if pending and time.monotonic() - renewed >= renew_every:
                renewed = time.monotonic()
                sending = {job_id for job_id, _sub_id in pending.values()}
                lease_end = now + datetime.timedelta(seconds=renewed - started) + LEASE
                PushJob.objects.filter(pk__in=sending, status=PushJob.Status.PENDING).update(due_at=lease_end)


def _chat_messages(ids: list[int]) -> dict[int, Any]:
    """The chat messages of these jobs, with their senders (chat's model, read here only)."""
    if not ids:
        return {}
    from chat.models import Message

    return {m.pk: m for m in Message.objects.select_related("sender").filter(pk__in=ids)}


def _record(job: PushJob, results: list[_Result], now: datetime.datetime, result: PushPass) -> None:
    """Per device: 2xx took it (remembered on the job, never sent to again), 404/410 is gone
    (deleted), 429/5xx/unreachable is tried again later for that device only, any other 4xx is
    broken. The job stays pending while a device may still take it."""
    ok = [r.sub_id for r in results if 200 <= r.status < 300]
    gone = [r.sub_id for r in results if r.status in (404, 410)]
    retry = [r for r in results if r.status == 0 or r.status == 429 or r.status >= 500]
    broken = [r.sub_id for r in results if 400 <= r.status < 500 and r.status not in (404, 410, 429)]
    done = sorted({*(job.done_sub_ids or []), *ok})
    with transaction.atomic():
        if ok:
            PushSubscription.objects.filter(pk__in=ok).update(last_success_at=now, failures=0)
        if gone:
            PushSubscription.objects.filter(pk__in=gone).delete()
            result.gone += len(gone)
        if broken or retry:
            PushSubscription.objects.filter(pk__in=broken + [r.sub_id for r in retry]).update(
                failures=F("failures") + 1
            )
        if retry and job.attempts < MAX_ATTEMPTS:
            # those devices did not get it yet: again when the push service says (or back off)
            hinted = [r.retry_after for r in retry if r.retry_after is not None]
            delay = max(hinted) if hinted else 30 * 2 ** (job.attempts - 1)
            delay = min(delay, MAX_BACKOFF_SECONDS)
            PushJob.objects.filter(pk=job.pk).update(due_at=now + datetime.timedelta(seconds=delay), done_sub_ids=done)
            result.retried += 1
        elif done:
            PushJob.objects.filter(pk=job.pk).update(
                status=PushJob.Status.SENT, sent_at=now, due_at=now, done_sub_ids=done
            )
            result.sent += 1
        else:
            PushJob.objects.filter(pk=job.pk).update(status=PushJob.Status.FAILED, due_at=now)
            result.failed += 1


def push_loop(
    *, interval: float, should_stop: Callable[[], bool], sleep: Callable[[float], object] = time.sleep
) -> None:
    """The sender's loop (a thread of run_worker, or of the embedded server). Never raises."""
    while not should_stop():
        try:
            busy = push_send_once().claimed
        except Exception:
            logger.exception("push: pass failed")
            busy = 0
            try:
                close_old_connections()
            except Exception:  # noqa: S110 (the next pass tries again)
                pass
        if not busy:
            sleep(interval)


def vapid_keys_new() -> tuple[str, str]:
    """A fresh VAPID pair as base64url: (raw 32-byte private key, uncompressed public point)."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    raw_private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return b64(raw_private), b64(public)
