"""/healthz and /readyz tell the truth when PostgreSQL or Redis is unreachable (the settings are
pointed at a closed port; the shared services keep running)."""

from __future__ import annotations

import socket

import pytest
from django.db import connections

CLOSED = "127.0.0.1"


def closed_port() -> int:
    """A local port with nothing listening (bound then released)."""
    with socket.socket() as s:
        s.bind((CLOSED, 0))
        return s.getsockname()[1]


def test_healthz_is_cheap_and_unauthenticated(client):
    # No django_db mark: any database access would raise here.
    response = client.get("/healthz", HTTP_HOST="10.0.0.5:8000")  # a probe's host need not be allowed
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_when_everything_is_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"] == {
        **body["checks"]["redis"],
        "ok": True,
        "used": True,
    }


@pytest.mark.django_db
def test_readyz_with_redis_unreachable(client, settings):
    settings.REDIS_URL = f"redis://{CLOSED}:{closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False and body["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_readyz_with_postgresql_unreachable(client):
    params = connections["default"].settings_dict
    saved = params["HOST"], params["PORT"]
    params["HOST"], params["PORT"] = CLOSED, str(closed_port())
    try:
        response = client.get("/readyz")
    finally:
        params["HOST"], params["PORT"] = saved
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] is False and body["checks"]["redis"]["ok"] is True


@pytest.mark.django_db
def test_readyz_without_redis_configured_says_redis_is_not_used(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["used"] is False


def test_health_paths_skip_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/admin/login/").status_code == 301
