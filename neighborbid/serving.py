"""What this project asks of the Daphne process it is served by (neighborbid.asgi calls it).

Twisted's HTTP request parses a POST's form body into `request.args` before Daphne sees the
request (the Content-Type through the `email` package, then the body, or every part of a
multipart upload), and Daphne never reads `args`: it hands the raw body to Django, which parses
it again. Twisted 24.11 lets whoever builds the request opt out (`parsePOSTFormSubmission`);
Daphne builds it without asking, so here its request class asks for it. That parse was 5–7 % of
an HTTP bid's server time (py-spy, docs/benchmarks.md, issue 19 #3). Nothing else changes: the
query string is still parsed, and the body is rewound for Daphne as before."""

from __future__ import annotations

import functools
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
