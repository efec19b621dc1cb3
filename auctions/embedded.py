"""The embedded default is live (issue 9, item 18): without REDIS_URL the server process runs the
settlement loop itself, in one background thread, so the events it commits (ended, sold, won,
ending soon) go through the in-process bus (neighborbid/bus.py) straight to this process's hub
and sockets. A separate `run_worker` process could not reach them: the in-process bus does not
cross processes.

Started once per process by the ASGI application (neighborbid/asgi.py) when
NEIGHBORBID["EMBEDDED_WORKER"] is on (default: on exactly when REDIS_URL is unset; set
EMBEDDED_WORKER=0/1 to override). With REDIS_URL, run `manage.py run_worker` processes as usual
(scripts/run.sh does). The loop is the same `auctions.worker.worker_loop` (faults survived, several
loops safe), stopped at interpreter exit."""

from __future__ import annotations

import atexit
import logging
import threading

from django.conf import settings

logger = logging.getLogger("neighborbid.worker")

_lock = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()


def embedded_worker_enabled() -> bool:
    return bool(settings.NEIGHBORBID.get("EMBEDDED_WORKER", not settings.REDIS_URL))


def embedded_worker_start() -> bool:
    """Start the in-process settlement loop once (idempotent). True when it is running."""
    global _thread
    if not embedded_worker_enabled():
        return False
    with _lock:
        if _thread is not None and _thread.is_alive():
            return True
        _stop.clear()
        _thread = threading.Thread(target=_run, name="neighborbid-embedded-worker", daemon=True)
        _thread.start()
    atexit.register(embedded_worker_stop)
    logger.info("embedded settlement loop started (no REDIS_URL: events go through the in-process bus)")
    return True


def embedded_worker_stop(timeout: float = 5.0) -> None:
    global _thread
    _stop.set()
    with _lock:
        thread, _thread = _thread, None
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)


def _run() -> None:
    from django.db import connections

    from auctions.worker import worker_loop
    from notifications.push import push_loop

    pusher = threading.Thread(
        target=push_loop,
        kwargs={
            "interval": settings.NEIGHBORBID["WORKER_INTERVAL_SECONDS"],
            "should_stop": _stop.is_set,
            "sleep": _stop.wait,
        },
        name="neighborbid-embedded-push",
        daemon=True,
    )
    pusher.start()
    try:
        worker_loop(
            interval=settings.NEIGHBORBID["WORKER_INTERVAL_SECONDS"],
            should_stop=_stop.is_set,
            sleep=_stop.wait,
        )
    finally:
        connections.close_all()
