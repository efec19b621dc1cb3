"""Rate limits: the per-process local bucket reconciled with the shared Redis bucket (real Redis)."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings

from neighborbid.errors import RateLimited
from neighborbid.ratelimit import LocalLimiter, _key, rate_limit_check, rate_limit_take_local

SLOW = 0.001  # tokens/s: nothing refills during a test


@pytest.fixture
def key():
    name, url = f"test-local:{uuid.uuid4().hex}", settings.REDIS_URL
    yield name
    redis.Redis.from_url(url).delete(_key(name))


def test_one_process_allows_exactly_the_burst_without_a_redis_round_trip(key):
    # given one process's limiter
    limiter = LocalLimiter(settings.REDIS_URL, interval=3600)
    shared = redis.Redis.from_url(settings.REDIS_URL)
    # when a user tries 15 times with a burst of 10
    allowed = [limiter.take(key, SLOW, 10) for _ in range(15)]
    # then 10 pass, and Redis was not asked: the shared bucket does not exist yet
    assert allowed == [True] * 10 + [False] * 5
    assert not shared.exists(_key(key))
    # when the limiter syncs, the shared bucket holds what was taken
    limiter.sync()
    assert float(shared.hget(_key(key), "tokens")) == pytest.approx(0, abs=0.01)


def test_two_processes_are_bounded_and_learn_each_others_use(key):
    # given two processes (two limiters) and a user with a burst of 10
    a = LocalLimiter(settings.REDIS_URL, interval=3600)
    b = LocalLimiter(settings.REDIS_URL, interval=3600)
    # when the user takes 5 on A, A syncs, then B starts and syncs before taking more
    assert all(a.take(key, SLOW, 10) for _ in range(5))
    a.sync()
    assert b.take(key, SLOW, 10)  # B's first attempt: its own full bucket
    b.sync()  # B learns the shared level: 10 - 5 - 1 = 4
    taken_b = 1 + sum(b.take(key, SLOW, 10) for _ in range(20))
    # then B allows only what is left of the shared bucket
    assert taken_b == 5
    # and once A hears of B's use it refuses too, so the total stays at the burst
    b.sync()
    a.take(key, SLOW, 10)  # marks the key for the next sync (refused or not)
    a.sync()
    assert not any(a.take(key, SLOW, 10) for _ in range(10))


def test_without_syncs_the_excess_is_at_most_one_burst_per_extra_process(key):
    # given two processes that have not synced yet (the worst case of the documented bound)
    a = LocalLimiter(settings.REDIS_URL, interval=3600)
    b = LocalLimiter(settings.REDIS_URL, interval=3600)
    # when the user tries 30 times on each
    total = sum(a.take(key, SLOW, 10) for _ in range(30)) + sum(b.take(key, SLOW, 10) for _ in range(30))
    # then at most burst + (P - 1) x burst pass, and after the syncs the debt is in Redis
    assert total == 20
    a.sync()
    b.sync()
    assert float(redis.Redis.from_url(settings.REDIS_URL).hget(_key(key), "tokens")) == pytest.approx(-10, abs=0.01)


def test_the_local_bucket_and_the_view_check_share_one_bucket(key, settings):
    # given a user who used the whole burst over the socket (local bucket, synced)
    limiter = LocalLimiter(settings.REDIS_URL, interval=3600)
    assert all(limiter.take(key, SLOW, 3) for _ in range(3))
    limiter.sync()
    # when a view checks the same key: refused
    with pytest.raises(RateLimited):
        rate_limit_check(key=key, rate=SLOW, burst=3)


def test_redis_down_still_limits_per_process_and_sync_fails_open(key):
    # given a limiter whose Redis is unreachable
    limiter = LocalLimiter("redis://127.0.0.1:1/0", interval=3600)
    # when the user tries 5 times with a burst of 3 and the limiter syncs
    allowed = [limiter.take(key, SLOW, 3) for _ in range(5)]
    limiter.sync()  # logs, does not raise
    # then the local bucket still limits
    assert allowed == [True, True, True, False, False]


def test_the_module_api_takes_locally(key, settings):
    settings.REDIS_URL = ""  # the embedded default: per process only
    assert [rate_limit_take_local(key=key, rate=SLOW, burst=2) for _ in range(3)] == [True, True, False]
