"""What this project asks of the Daphne process it is served by (neighborbid.asgi calls it).

Twisted's HTTP request parses a POST's form body into `request.args` before Daphne sees the
request (the Content-Type through the `email` package, then the body, or every part of a
multipart upload), and Daphne never reads `args`: it hands the raw body to Django, which parses
it again. Twisted 24.11 lets whoever builds the request opt out (`parsePOSTFormSubmission`);
Daphne builds it without asking, so here its request class asks for it. That parse was 5–7 % of
an HTTP bid's server time (py-spy, docs/benchmarks.md, issue 19 #3). Nothing else changes: the
query string is still parsed, and the body is rewound for Daphne as before.

And the collector of a serving process (gc_tune_for_serving)."""

from __future__ import annotations

import functools
import gc
import inspect
from typing import Any


def daphne_form_parsing_off() -> bool:
    """Make Daphne's requests skip Twisted's form-body parse; False when Daphne or a Twisted with
    the switch is not installed (nothing changed)."""
    try:
        from daphne.http_protocol import WebRequest
        from twisted.web import http
    except ImportError:
        return False
    if "parsePOSTFormSubmission" not in inspect.signature(http.Request.__init__).parameters:
        return False
    original = WebRequest.__init__
    if getattr(original, "_no_form_parsing", False):
        return True

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        original(self, *args, **kwargs)

    __init__._no_form_parsing = True  # type: ignore[attr-defined]
    WebRequest.__init__ = __init__
    return True


def gc_tune_for_serving(*, freeze: bool, gen0_threshold: int) -> None:
    """Tune the cyclic garbage collector of a long-lived serving process, once its application
    is loaded (neighborbid.asgi; settings GC_FREEZE and GC_GEN0_THRESHOLD).

    A collection holds the GIL, so it stops the event loop and every request thread. A full one
    walks every object the process holds, and nearly all of them are what startup loaded
    (modules, classes, functions, URL patterns, templates): 177,000 objects after a few seconds
    of HTTP bids, and each full collection took 80–95 ms of one Daphne. With Python's threshold
    of 700 a request's own live objects are scanned and promoted several times per request, so
    the older generations fill and run often. Measured over 17 s of `bench/http_bids.py` (a
    gc.callbacks probe, docs/benchmarks.md): 6.3–6.9 % of each process's time in the collector
    before, 2.8–3.0 % with both.

    `freeze`: collect what startup left, then move every surviving object to the permanent
    generation (gc.freeze), which no later collection walks. What startup made and later drops
    into a cycle is never freed; startup objects live as long as the process anyway.
    `gen0_threshold` (> 0): collect the youngest generation after that many net allocations
    instead of 700 (the two older thresholds stay Python's)."""
    if freeze:
        gc.collect()
        gc.freeze()
    if gen0_threshold > 0:
        _gen0, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)
