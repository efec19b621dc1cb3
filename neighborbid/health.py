"""Health endpoints for the proxy, the orchestrator and the operator; unauthenticated and cheap.

GET /healthz: the process is alive and serving (touches nothing else).
GET /readyz: the database and Redis answer (one `SELECT 1` on a fresh short-timeout connection,
one PING); 200 when all are up, 503 naming what is not. Without REDIS_URL (the embedded dev
default) Redis is reported as not used.

HealthCheckMiddleware (first in MIDDLEWARE) answers these paths before anything else runs, so a
probe from inside the container (Host: 127.0.0.1, plain HTTP) gets no host check, no HTTPS
redirect, no session and no log line.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

PROBE_TIMEOUT_S = 2


def _database() -> dict:
    started = time.monotonic()
    try:
        connection = connections["default"]
        if connection.vendor == "postgresql":
            import psycopg

            params = connection.settings_dict
            with psycopg.connect(
                dbname=params["NAME"],
                user=params["USER"] or None,
                password=params["PASSWORD"] or None,
                host=params["HOST"] or None,
                port=params["PORT"] or None,
                connect_timeout=PROBE_TIMEOUT_S,
                application_name="neighborbid-readyz",
            ) as conn:
                conn.execute("SELECT 1").fetchone()
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__, "ms": _ms(started)}
    return {"ok": True, "ms": _ms(started)}


def _redis() -> dict:
    if not settings.REDIS_URL:
        return {"ok": True, "used": False, "detail": "not used (no REDIS_URL): in-process bus"}
    started = time.monotonic()
    from neighborbid.redisconn import sync_client

    client = sync_client(settings.REDIS_URL, socket_timeout=PROBE_TIMEOUT_S, socket_connect_timeout=PROBE_TIMEOUT_S)
    try:
        client.ping()
    except Exception as exc:
        return {"ok": False, "used": True, "error": type(exc).__name__, "ms": _ms(started)}
    finally:
        client.close()
    return {"ok": True, "used": True, "ms": _ms(started)}


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    checks = {"database": _database(), "redis": _redis()}
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


HEALTH_VIEWS = {"/healthz": healthz, "/readyz": readyz}
