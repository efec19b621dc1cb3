"""neighborbid.serving: Daphne's requests skip Twisted's parse of a form body (Django parses it), and a
serving process's collector is tuned once its application is loaded."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from types import SimpleNamespace

import pytest
from daphne.http_protocol import WebRequest
from django.conf import settings
from twisted.web.test.requesthelper import DummyChannel

from neighborbid.serving import daphne_form_parsing_off, gc_tune_for_serving

BODY = b"amount=12000&request_id=abc&csrfmiddlewaretoken=t"


def received(**kwargs) -> WebRequest:
    """A form POST as Daphne's request receives it, up to the point Daphne takes over."""
    channel = DummyChannel()
    channel.factory = SimpleNamespace(server=SimpleNamespace(protocol_connected=lambda request: None))
    request = WebRequest(channel, **kwargs)
    request.requestHeaders.setRawHeaders(b"content-type", [b"application/x-www-form-urlencoded"])
    request.gotLength(len(BODY))
    request.handleContentChunk(BODY)
    request.process = lambda: None  # Daphne's own step: hand the body to the application
    request.requestReceived(b"POST", b"/auctions/1/bid/?next=1", b"HTTP/1.1")
    return request


def test_a_form_body_reaches_daphne_whole_and_unparsed():
    # given the switch (neighborbid.asgi turns it on in every server)
    assert daphne_form_parsing_off() is True
    # when a form POST is received
    request = received()
    # then Twisted parsed only the query string, and the body is there from its start for Django
    assert request.args == {b"next": [b"1"]}
    assert request.content.read() == BODY


def test_the_parse_it_skips_is_twisteds_own_when_asked_for():
    # the control: the same request with Twisted's parse asked for explicitly parses the body
    request = received(parsePOSTFormSubmission=True)
    assert request.args[b"amount"] == [b"12000"]
    assert request.content.read() == BODY


def test_turning_it_on_twice_wraps_once():
    daphne_form_parsing_off()
    first = WebRequest.__init__
    daphne_form_parsing_off()
    assert WebRequest.__init__ is first


# --- the collector of a serving process (gc_tune_for_serving) -----------------------------------


@pytest.fixture
def collector_restored():
    """The test process's collector as it was (freeze count 0 again, Python's thresholds)."""
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    yield
    if gc.get_freeze_count() > frozen:
        gc.unfreeze()
        if frozen:
            gc.freeze()  # what the process had frozen before (objects since then included)
    gc.set_threshold(*threshold)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _dropped_cycle() -> weakref.ref:
    """A reference cycle nothing points to any more; the weak reference tells when it is freed."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_serving_freezes_what_startup_loaded_after_collecting_its_garbage(collector_restored):
    # given startup's live objects and a cycle startup dropped (no automatic collection meanwhile)
    gc.disable()
    try:
        kept = [_Node() for _ in range(100)]
        dropped = _dropped_cycle()
        frozen_before, (_g0, g1, g2) = gc.get_freeze_count(), gc.get_threshold()
        # when the process is tuned for serving
        gc_tune_for_serving(freeze=True, gen0_threshold=12_345)
    finally:
        gc.enable()
    # then the garbage was collected first (not frozen for ever), the live objects are frozen out
    # of later collections, and only the youngest generation's threshold changed
    assert dropped() is None
    assert gc.get_freeze_count() >= frozen_before + len(kept)
    assert gc.get_threshold() == (12_345, g1, g2)


def test_serving_leaves_pythons_collector_alone_when_told_to(collector_restored):
    # given the collector as Python set it up, and a dropped cycle (no automatic collection
    # meanwhile: one would free it, and the check below would blame the call)
    frozen_before, threshold = gc.get_freeze_count(), gc.get_threshold()
    gc.disable()
    try:
        dropped = _dropped_cycle()
        # when both settings are off (GC_FREEZE=0, GC_GEN0_THRESHOLD=0)
        gc_tune_for_serving(freeze=False, gen0_threshold=0)
        # then nothing changed: no collection ran, nothing frozen, the same thresholds
        assert dropped() is not None
    finally:
        gc.enable()
    assert gc.get_freeze_count() == frozen_before
    assert gc.get_threshold() == threshold


@pytest.mark.parametrize(
    ("env", "frozen", "gen0"),
    [({}, True, 10_000), ({"GC_FREEZE": "0", "GC_GEN0_THRESHOLD": "0"}, False, 700)],
)
def test_the_served_application_tunes_its_collector_from_the_settings(env, frozen, gen0):
    # given a process as Daphne starts one (with Redis, so no embedded worker), with or without the settings
    from tests.realtime.servers import server_env

    extra = {"REDIS_URL": "redis://127.0.0.1:6379/9", "BUS_PREFIX": "gc-test"}
    code = "import gc, neighborbid.asgi; print(gc.get_freeze_count() > 0, gc.get_threshold()[0])"
    # when it loads the application
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env={**server_env(redis_url=extra["REDIS_URL"], bus_prefix=extra["BUS_PREFIX"]), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then its collector is tuned as the settings say
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(frozen), str(gen0)]
