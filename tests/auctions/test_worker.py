"""The settlement worker survives faults (issue 9, item 6): a real `manage.py run_worker` process
against the test database whose connections are killed with pg_terminate_backend, and one whose
first due auction makes the settlement service raise (bad data, not a database error)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from auctions import services
from auctions.models import Auction
from tests import factories as f
from tests.money import assert_books_balance, wallet_of
from tests.realtime.servers import BASE_DIR, server_env, subprocess_database_url

pytestmark = pytest.mark.django_db(transaction=True)


class WorkerProcess:
    def __init__(self, tmp_path) -> None:
        self.app_name = f"nbtest-worker-{uuid.uuid4().hex[:8]}"
        env = server_env(redis_url=settings.REDIS_URL, bus_prefix=settings.BUS_PREFIX, LOG_LEVEL="INFO")
        env["DATABASE_URL"] = f"{subprocess_database_url()}?application_name={self.app_name}"
        self.log_path = tmp_path / "worker.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.2"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate_backends(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                [self.app_name],
            )
            return cursor.fetchone()[0]

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture
def worker(tmp_path):
    process = WorkerProcess(tmp_path)
    try:
        yield process
    finally:
        process.stop()


def ended_auction(**kwargs) -> Auction:
    auction = f.make_auction(**kwargs)
    f.set_end(auction, timezone.now() - timedelta(seconds=1))
    return auction


def wait_until_ended(auction: Auction, worker: WorkerProcess, *, timeout: float = 30) -> Auction:
    """Wait for the worker (not a speed check: the deadline only stops a hung test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        auction.refresh_from_db()
        if auction.status not in (Auction.Status.OPEN, Auction.Status.SCHEDULED):
            return auction
        if not worker.alive():
            break
        time.sleep(0.1)
    pytest.fail(f"auction {auction.pk} not settled; worker alive={worker.alive()}\n{worker.log()[-3000:]}")


def test_worker_survives_its_database_connections_being_killed(worker):
    # given: a running worker that has settled one auction (so it holds pooled connections)
    first = ended_auction()
    wait_until_ended(first, worker)

    # when: the database kills every connection of the worker (as a failover or restart would)
    assert worker.terminate_backends() >= 1
    bidder = f.make_user(balance=100_000)
    second = f.make_auction(start_price=20_000)
    services.bid_place(auction_id=second.pk, actor=bidder, amount=20_000, request_id=f.rid())
    f.set_end(second, timezone.now() - timedelta(seconds=1))

    # then: the worker is still running and settles the next due auction, money and all
    second = wait_until_ended(second, worker)
    assert worker.alive()
    assert second.status == Auction.Status.SOLD and second.winner_id == bidder.pk
    assert wallet_of(bidder) == (80_000, 0)
    assert wallet_of(second.seller) == (0, 0)  # the price waits in the trade's escrow until 구매확정
    assert second.trade.amount == 20_000 and second.trade.is_open
    assert_books_balance()

    # and again: killed while idle between passes, it still goes on
    assert worker.terminate_backends() >= 1
    third = ended_auction()
    assert wait_until_ended(third, worker).status == Auction.Status.UNSOLD
    assert worker.alive()


def test_one_auction_that_makes_settlement_raise_does_not_stop_the_others(worker):
    # given: a corrupt auction that is due first: it names a leader whose wallet holds nothing,
    # so settling it raises (not a database error) -- and two sound auctions due after it
    ghost = f.make_user()
    bad = f.make_auction()
    f.set_end(bad, timezone.now() - timedelta(minutes=5))
    Auction.objects.filter(pk=bad.pk).update(leader_id=ghost.pk, current_price=15_000, bid_count=1)
    good = ended_auction()
    also_good = ended_auction()

    # when / then: the worker settles the sound ones and keeps running; the bad one stays open
    assert wait_until_ended(good, worker).status == Auction.Status.UNSOLD
    assert wait_until_ended(also_good, worker).status == Auction.Status.UNSOLD
    later = ended_auction()
    assert wait_until_ended(later, worker).status == Auction.Status.UNSOLD
    assert worker.alive()
    bad.refresh_from_db()
    assert bad.status == Auction.Status.OPEN
    assert wallet_of(ghost) == (0, 0)
    assert f"failed for auction {bad.pk}" in worker.log()


_FIRST_PASS = """
import django
django.setup()
from django.urls import get_resolver
from auctions import worker
seen = [get_resolver()._populated]
def first_pass(**kwargs):
    seen.append(get_resolver()._populated)
    return worker.WorkerPass()
worker.worker_run_once = first_pass
worker.worker_loop(interval=0, should_stop=lambda: True, once=True)
print("url map loaded: at start, at the first pass:", seen)
"""


def test_the_worker_loads_the_url_map_before_its_first_pass():
    # given a fresh process, as `manage.py run_worker` starts: a trade's release builds its review
    # link with reverse() under the trade's and both wallets' locks, and the first reverse() of a
    # process imports every view (bench/once_holds.py: about 300 ms with those locks held)
    env = server_env(redis_url=settings.REDIS_URL, bus_prefix=settings.BUS_PREFIX)
    env["DJANGO_SETTINGS_MODULE"] = "neighborbid.settings"
    # when its loop starts (the pass itself stands in: only what comes before it is looked at)
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_PASS], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    # then the map was built before the first pass, not by it
    assert done.returncode == 0, done.stderr
    assert "url map loaded: at start, at the first pass: [False, True]" in done.stdout, done.stdout
