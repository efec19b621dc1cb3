"""Web Push (issue 22): the outbox written after commit, and the sender against a real loopback
push endpoint that checks the VAPID signature and decrypts the payload (http_ece)."""

from __future__ import annotations

import base64
import datetime
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.db import transaction
from django.utils import timezone

from auctions.services import bid_place
from notifications.models import Notification, PushJob, PushPreference, PushSubscription
from notifications.push import push_send_once, vapid_keys_new
from notifications.services import notification_create, push_subscription_save
from tests.factories import make_auction, make_user, rid

pytestmark = pytest.mark.django_db(transaction=True)

KST = datetime.timezone(datetime.timedelta(hours=9))


def tomorrow_kst(hour: int) -> datetime.datetime:
    """A clock the jobs written now are already due at: tomorrow, at this hour in Seoul."""
    day = (timezone.now() + datetime.timedelta(days=1)).astimezone(KST).date()
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=KST)


NOON_KST = tomorrow_kst(12)
NIGHT_KST = tomorrow_kst(23)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """A loopback push service: records every POST as it arrives; answers per path (default 201).
    A path in `hold` is answered only once its event is set (then not at all if it is in `drop`,
    once: the connection closes unanswered, as when the sender died); `accepted` lists the paths that
    were answered 2xx, i.e. the pushes the service took, each recorded before its answer is sent."""

    base: str
    received: list[Received] = field(default_factory=list)
    answers: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)
    hold: dict[str, threading.Event] = field(default_factory=dict)
    drop: set[str] = field(default_factory=set)
    accepted: list[str] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [r.path for r in self.received]


@pytest.fixture
def push_service():
    service = PushService(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            service.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            held = service.hold.get(self.path)
            if held is not None:
                held.wait(10)  # a deadline only so that a broken test cannot hang
            if self.path in service.drop:
                service.drop.discard(self.path)  # once: a later POST is answered
                self.close_connection = True
                return
            status, headers = service.answers.get(self.path, (201, {}))
            if 200 <= status < 300:
                service.accepted.append(self.path)  # before the answer: a sender that has it finds it here
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service
    server.shutdown()
    server.server_close()


@pytest.fixture
def vapid(settings):
    private, public = vapid_keys_new()
    settings.VAPID_PRIVATE_KEY = private
    settings.VAPID_PUBLIC_KEY = public
    settings.VAPID_SUBJECT = "mailto:ops@example.org"
    settings.PUSH_ALLOW_LOOPBACK_HTTP = True
    return public


@dataclass
class Browser:
    """What a browser keeps for its subscription: the private key and the auth secret."""

    key: ec.EllipticCurvePrivateKey
    auth: bytes
    endpoint: str

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


def subscribe(user, service: PushService, path: str) -> Browser:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    endpoint = service.base + path
    push_subscription_save(user=user, endpoint=endpoint, p256dh=b64(public), auth=b64(auth), user_agent="test")
    return Browser(key, auth, endpoint)


def assert_vapid(received: Received, public_key: str, service: PushService) -> None:
    scheme, _, params = received.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.split("=", 1) for p in params.split(","))
    assert parts["k"] == public_key
    header, payload, signature = parts["t"].split(".")
    claims = json.loads(unb64(payload))
    assert claims["aud"] == service.base
    assert claims["sub"] == "mailto:ops@example.org"
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(public_key))
    key.verify(der, f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))  # raises when forged


def outbid(auction, first, second) -> None:
    bid_place(auction_id=auction.pk, actor=first, amount=auction.start_price, request_id=rid())
    bid_place(auction_id=auction.pk, actor=second, amount=auction.start_price + 1_000, request_id=rid())


def test_an_outbid_pushes_once_encrypted_signed_with_topic_ttl_and_urgency(push_service, vapid):
    # given a bidder with push on this browser, and a rival
    first, second = make_user(balance=100_000), make_user(balance=100_000)
    browser = subscribe(first, push_service, "/push/first")
    auction = make_auction(start_price=10_000)
    # when the rival outbids them (the job is written after the bid's commit)
    outbid(auction, first, second)
    jobs = list(PushJob.objects.all())
    assert [(j.user_id, j.kind, j.auction_id) for j in jobs] == [(first.pk, "outbid", auction.pk)]
    result = push_send_once(now=NOON_KST)
    # then one POST reached the push service, signed, encrypted, with the headers asked for
    assert result.sent == 1
    assert len(push_service.received) == 1
    got = push_service.received[0]
    assert got.path == "/push/first"
    assert got.headers["ttl"] == "900"
    assert got.headers["topic"] == f"outbid-{auction.pk}"
    assert got.headers["urgency"] == "high"
    assert got.headers["content-encoding"] == "aes128gcm"
    assert_vapid(got, vapid, push_service)
    payload = browser.decrypt(got.body)
    note = Notification.objects.get(user=first, kind="outbid")
    assert payload == {
        "title": "동네경매",
        "body": note.message,
        "url": f"/auctions/{auction.pk}/",
        "tag": f"outbid-{auction.pk}",
        "kind": "outbid",
    }
    job = PushJob.objects.get()
    assert job.status == PushJob.Status.SENT
    assert PushSubscription.objects.get().last_success_at is not None
    # and a second pass sends nothing again
    assert push_send_once(now=NOON_KST).claimed == 0
    assert len(push_service.received) == 1


def test_no_subscription_no_job(push_service, vapid):
    first, second = make_user(balance=100_000), make_user(balance=100_000)
    auction = make_auction(start_price=10_000)
    outbid(auction, first, second)
    assert Notification.objects.filter(user=first, kind="outbid").exists()
    assert not PushJob.objects.exists()


def test_a_rolled_back_notification_is_never_pushed(push_service, vapid):
    user = make_user()
    subscribe(user, push_service, "/push/a")

    def write_then_fail() -> None:
        with transaction.atomic():
            notification_create(user_ids=[user.pk], kind="answer", message="답변이 달렸어요.")
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert not PushJob.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.parametrize("status", [404, 410])
def test_gone_subscription_is_deleted(push_service, vapid, status):
    user = make_user()
    subscribe(user, push_service, "/push/gone")
    push_service.answers["/push/gone"] = (status, {})
    notification_create(user_ids=[user.pk], kind="won", message="낙찰됐어요!")
    result = push_send_once(now=NOON_KST)
    assert result.gone == 1
    assert not PushSubscription.objects.exists()
    assert PushJob.objects.get().status == PushJob.Status.FAILED


def test_429_backs_off_by_retry_after_and_keeps_the_subscription(push_service, vapid):
    user = make_user()
    subscribe(user, push_service, "/push/busy")
    push_service.answers["/push/busy"] = (429, {"Retry-After": "120"})
    notification_create(user_ids=[user.pk], kind="won", message="낙찰됐어요!")
    now = timezone.now()
    result = push_send_once(now=now)
    assert result.retried == 1
    job = PushJob.objects.get()
    assert job.status == PushJob.Status.PENDING
    assert job.due_at == now + datetime.timedelta(seconds=120)
    assert PushSubscription.objects.get().failures == 1
    # nothing is tried before the push service said; afterwards it goes out
    assert push_send_once(now=now + datetime.timedelta(seconds=60)).claimed == 0
    push_service.answers.clear()
    assert push_send_once(now=now + datetime.timedelta(seconds=121)).sent == 1
    assert len(push_service.received) == 2


def test_a_dead_push_service_does_not_block_another_user(push_service, vapid):
    dead_user, live_user = make_user(), make_user()
    subscribe(dead_user, push_service, "/push/dead")
    live = subscribe(live_user, push_service, "/push/live")
    push_service.answers["/push/dead"] = (503, {})
    notification_create(user_ids=[dead_user.pk, live_user.pk], kind="won", message="낙찰됐어요!")
    result = push_send_once(now=NOON_KST)
    assert (result.sent, result.retried) == (1, 1)
    delivered = [r for r in push_service.received if r.path == "/push/live"]
    assert live.decrypt(delivered[0].body)["body"] == "낙찰됐어요!"
    assert PushJob.objects.get(user=dead_user).status == PushJob.Status.PENDING


def test_outbid_pushes_at_most_once_a_minute_per_auction(push_service, vapid):
    first, second = make_user(balance=200_000), make_user(balance=200_000)
    subscribe(first, push_service, "/push/first")
    auction = make_auction(start_price=10_000)
    outbid(auction, first, second)
    assert push_send_once(now=NOON_KST).sent == 1
    # outbid again 30 seconds later: throttled
    bid_place(auction_id=auction.pk, actor=first, amount=auction.start_price + 2_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=second, amount=auction.start_price + 3_000, request_id=rid())
    result = push_send_once(now=NOON_KST + datetime.timedelta(seconds=30))
    assert (result.sent, result.skipped) == (0, 1)
    assert len(push_service.received) == 1
    # a minute after the last push, the next outbid goes out
    bid_place(auction_id=auction.pk, actor=first, amount=auction.start_price + 4_000, request_id=rid())
    bid_place(auction_id=auction.pk, actor=second, amount=auction.start_price + 5_000, request_id=rid())
    assert push_send_once(now=NOON_KST + datetime.timedelta(seconds=61)).sent == 1


def test_quiet_hours_hold_back_reminders_but_not_money(push_service, vapid):
    user = make_user()
    subscribe(user, push_service, "/push/q")
    auction = make_auction()
    notification_create(user_ids=[user.pk], kind="ending_soon", message="곧 마감돼요.", auction=auction)
    notification_create(user_ids=[user.pk], kind="won", message="낙찰됐어요!", auction=auction)
    result = push_send_once(now=NIGHT_KST)
    assert (result.sent, result.skipped) == (1, 1)
    assert PushJob.objects.get(kind="ending_soon").status == PushJob.Status.SKIPPED
    assert PushJob.objects.get(kind="won").status == PushJob.Status.SENT


def test_a_kind_turned_off_is_not_pushed(push_service, vapid):
    user = make_user()
    subscribe(user, push_service, "/push/k")
    PushPreference.objects.create(user=user, disabled_kinds=["answer"])
    notification_create(user_ids=[user.pk], kind="answer", message="답변이 달렸어요.")
    assert push_send_once(now=NOON_KST).skipped == 1
    assert push_service.received == []


def test_a_killed_worker_loses_nothing_and_sends_once(push_service, vapid):
    from notifications.push import LEASE, _claim

    user = make_user()
    subscribe(user, push_service, "/push/k")
    notification_create(user_ids=[user.pk], kind="won", message="낙찰됐어요!")
    now = timezone.now()
    # a worker claims the job and dies before sending
    assert len(_claim(10, now)) == 1
    # another worker does not take it while the lease holds, then sends it once
    assert push_send_once(now=now + datetime.timedelta(seconds=1)).claimed == 0
    assert push_send_once(now=now + LEASE + datetime.timedelta(seconds=1)).sent == 1
    assert push_send_once(now=now + 3 * LEASE).claimed == 0
    assert len(push_service.received) == 1


def test_without_vapid_keys_nothing_is_sent_and_jobs_wait(push_service, settings):
    settings.VAPID_PRIVATE_KEY = ""
    settings.PUSH_ALLOW_LOOPBACK_HTTP = True
    user = make_user()
    subscribe(user, push_service, "/push/n")
    notification_create(user_ids=[user.pk], kind="won", message="낙찰됐어요!")
    assert push_send_once().claimed == 0
    assert PushJob.objects.get().status == PushJob.Status.PENDING


@pytest.mark.parametrize("path", ["in-server", "compare-and-set", "locked"])
def test_the_bid_gains_no_statement_under_the_lock_and_the_job_is_written_after_commit(
    path, push_service, vapid, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from auctions.services import bidding

    monkeypatch.setattr(bidding, "SQL_DECIDE", path == "in-server")
    if path == "locked":
        monkeypatch.setattr(bidding, "CAS_ATTEMPTS", 0)
    # given a leader with push on, and a rival
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    subscribe(first, push_service, "/push/first")
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    # when the rival outbids them
    with CaptureQueriesContext(connection) as ctx:
        bid_place(auction_id=auction.pk, actor=second, amount=11_000, request_id=rid())
    sql = [q["sql"] for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]]
    # then the bid's own statements are as before, and the push job's one INSERT comes after
    # them, outside the auction lock: on the compare-and-set path after its one autocommit
    # write (the row locks live inside that statement), on the locked path after COMMIT
    if path == "locked":
        begin, end = sql.index("BEGIN"), sql.index("COMMIT")
        under_lock = sql[begin + 1 : end]
        assert len(under_lock) == 3, "\n".join(sql)  # lock auction, lock wallets, one write
    elif path == "in-server":
        end = 0  # the one call (its row locks live inside it), then the job
        under_lock = [sql[0]]
        assert sql[0].startswith("SELECT * FROM nb_bid_decide("), "\n".join(sql)
    else:
        end = next(i for i, s in enumerate(sql) if s.startswith("WITH cas_auction"))
        under_lock = [sql[end]]
        assert "BEGIN" not in sql and end == 1, "\n".join(sql)  # the read (with the user), the write
    assert not any("pushjob" in s or "pushsubscription" in s for s in under_lock)
    after = sql[end + 1 :]
    assert len(after) == 1 and after[0].startswith("INSERT INTO notifications_pushjob"), "\n".join(sql)
    assert PushJob.objects.filter(user=first, kind="outbid").count() == 1


@pytest.mark.parametrize("path", ["in-server", "compare-and-set"])
def test_a_bid_that_tells_nobody_with_push_costs_no_outbox_statement(path, push_service, vapid, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from auctions.services import bidding

    monkeypatch.setattr(bidding, "SQL_DECIDE", path == "in-server")

    # given a leader and a rival, neither with push (someone else has it)
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=50_000), make_user(balance=50_000)
    subscribe(make_user(), push_service, "/push/someone-else")
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, request_id=rid())
    # when the rival outbids the leader
    with CaptureQueriesContext(connection) as ctx:
        bid_place(auction_id=auction.pk, actor=second, amount=11_000, request_id=rid())
    # then the leader is told, and the call (or the compare-and-set read) already knew no push
    # was due: the call alone, or the read and the write, and no outbox INSERT after them
    sql = [q["sql"] for q in ctx.captured_queries]
    if path == "in-server":
        assert len(sql) == 1 and sql[0].startswith("SELECT * FROM nb_bid_decide("), "\n".join(sql)
    else:
        assert len(sql) == 2 and sql[1].startswith("WITH cas_auction"), "\n".join(sql)
    assert Notification.objects.filter(user=first, kind="outbid").count() == 1
    assert not PushJob.objects.exists()


def test_a_bidder_answered_at_once_by_a_higher_maximum_is_pushed_too(push_service, vapid):
    # given a leader holding a maximum, and a rival with push on
    auction = make_auction(start_price=10_000, is_national=True)
    first, second = make_user(balance=100_000), make_user(balance=100_000)
    bid_place(auction_id=auction.pk, actor=first, amount=10_000, max_amount=50_000, request_id=rid())
    subscribe(second, push_service, "/push/second")
    # when the rival bids below that maximum (the maximum answers at once)
    result = bid_place(auction_id=auction.pk, actor=second, amount=20_000, request_id=rid())
    # then the rival, told that they were outbid at once, gets the push job, and the leader none
    assert not result.leading
    assert list(PushJob.objects.values_list("user_id", "kind")) == [(second.pk, "outbid")]


def test_a_slow_pass_keeps_its_jobs_leased_so_a_second_worker_does_not_send_again(push_service, vapid, monkeypatch):
    from django.db import connection

    from notifications import push

    # given a short lease, and a user with two devices: one answers at once, one hangs
    monkeypatch.setattr(push, "LEASE", datetime.timedelta(seconds=1.5))
    user = make_user()
    subscribe(user, push_service, "/push/quick")
    subscribe(user, push_service, "/push/slow")
    push_service.hold["/push/slow"] = threading.Event()
    notification_create(user_ids=[user.pk], kind="won", message="낙찰됐어요!")
    passes: list[push.PushPass] = []

    def first_worker() -> None:
        try:
            passes.append(push_send_once())
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    try:
        # when the first worker's pass outlives the lease it claimed with (the slow device hangs)
        deadline = time.monotonic() + 10
        while "/push/slow" not in push_service.paths() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(2.5)
        # then a second worker finds the job still leased: nothing is claimed or sent again
        assert push_send_once().claimed == 0
        # and the quick device's answer is already on the job
        quick = PushSubscription.objects.get(endpoint__endswith="/push/quick")
        assert PushJob.objects.get().done_sub_ids == [quick.pk]
    finally:
        push_service.hold["/push/slow"].set()
        worker.join(15)
    # when the slow device answers, the first worker finishes the job: each device had it once
    assert passes[0].sent == 1 and PushJob.objects.get().status == PushJob.Status.SENT
    assert sorted(push_service.accepted) == ["/push/quick", "/push/slow"]
    assert sorted(push_service.paths()) == ["/push/quick", "/push/slow"]
