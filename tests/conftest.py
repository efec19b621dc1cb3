"""Shared test setup. The suite runs on real PostgreSQL and Redis (see scripts/test.sh); with
NEIGHBORBID_REQUIRE_SERVICES=1 (CI) it stops with an error, never skips, when one is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings


def pytest_sessionstart(session):
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL must point at PostgreSQL (races and locks are invisible on SQLite)")
    if not settings.REDIS_URL:
        problems.append("REDIS_URL must point at Redis")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
        except Exception as exc:
            problems.append(f"Redis at {settings.REDIS_URL} is not reachable: {exc}")
    # WhiteNoise warns on every request when STATIC_ROOT does not exist (no collectstatic in tests)
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    if problems:
        pytest.exit("Test services missing:\n  " + "\n  ".join(problems) + "\nRun the suite with `make test`.", 2)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    # Hashing is not under test here; PBKDF2 would cost ~0.3 s per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Login lockouts and rate-limit buckets live in Redis (keyed by IP 127.0.0.1 and by user ids,
    # which repeat across runs): each test starts without the previous tests' counts.
    from neighborbid.security import throttle_reset

    throttle_reset()
