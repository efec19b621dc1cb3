"""The push outbox survives a worker killed in the middle of a job (issue 22): a real
`manage.py run_worker` process sends one job to three devices of a user; two take it, the third
hangs, and the worker is killed with SIGKILL. After the lease, another pass sends to the third
device only: no device has the push twice, and nothing is lost."""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from django.utils import timezone

from notifications.models import PushJob, PushSubscription
from notifications.push import LEASE, push_send_once
from notifications.services import notification_create
from tests.factories import make_user
from tests.notifications.test_push import push_service, subscribe, vapid  # noqa: F401 (fixtures)
from tests.realtime.servers import BASE_DIR, server_env

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, *, timeout: float, what: str, log) -> None:
    """A deadline only so that a broken run cannot hang (not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} not seen after {timeout}s\n{log()[-3000:]}")


def test_a_worker_killed_mid_job_sends_each_device_once(push_service, vapid, tmp_path):  # noqa: F811
    # given a user with three devices: the phone and the tablet answer at once, the laptop hangs
    user = make_user()
    for path in ("/push/phone", "/push/tablet", "/push/laptop"):
        subscribe(user, push_service, path)
    ids = {s.endpoint.rsplit("/", 1)[1]: s.pk for s in PushSubscription.objects.all()}
    push_service.hold["/push/laptop"] = threading.Event()
    notification_create(user_ids=[user.pk], kind="won", message="낙찰됐어요!")
    job = PushJob.objects.get()
    # and a real worker process sending it
    env = server_env(
        redis_url=settings.REDIS_URL,
        bus_prefix=settings.BUS_PREFIX,
        VAPID_PRIVATE_KEY=settings.VAPID_PRIVATE_KEY,
        VAPID_PUBLIC_KEY=settings.VAPID_PUBLIC_KEY,
        VAPID_SUBJECT=settings.VAPID_SUBJECT,
    )
    log_path = tmp_path / "worker.log"
    with open(log_path, "ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.2"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        read_log = lambda: log_path.read_text(errors="replace")  # noqa: E731
        # (the service records a POST as it arrives and a 2xx just before sending it: wait for both,
        # or the phone's handler can still be between the two when the third POST is seen)
        wait_for(
            lambda: len(push_service.received) == 3 and len(push_service.accepted) == 2,
            timeout=30,
            what="three POSTs, two of them answered",
            log=read_log,
        )
        assert sorted(push_service.accepted) == ["/push/phone", "/push/tablet"]
        # the worker records each device's answer as it comes (give it a moment to: well within
        # the 5 s it waits for the laptop's answer, so the kill comes while that POST is in flight)
        done = sorted([ids["phone"], ids["tablet"]])
        deadline = time.monotonic() + 2
        while PushJob.objects.get(pk=job.pk).done_sub_ids != done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert PushJob.objects.get(pk=job.pk).done_sub_ids == done
        # when the worker is killed while the laptop's POST is in flight
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        push_service.drop.add("/push/laptop")  # the push service never took it: its sender died
        push_service.hold["/push/laptop"].set()
    wait_for(lambda: not push_service.drop, timeout=10, what="the unanswered POST closed", log=lambda: "")
    # then the job is neither lost nor sent by anyone while the dead worker's lease holds
    assert PushJob.objects.get(pk=job.pk).status == PushJob.Status.PENDING
    assert push_send_once(now=timezone.now()).claimed == 0
    # and after the lease, another pass sends to the laptop alone
    later = push_send_once(now=timezone.now() + LEASE + datetime.timedelta(seconds=1))
    assert (later.claimed, later.sent) == (1, 1)
    assert sorted(push_service.accepted) == ["/push/laptop", "/push/phone", "/push/tablet"]
    assert sorted(push_service.paths()) == ["/push/laptop", "/push/laptop", "/push/phone", "/push/tablet"]
    job.refresh_from_db()
    assert job.status == PushJob.Status.SENT and job.done_sub_ids == sorted(ids.values())
