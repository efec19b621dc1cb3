"""After-commit side effects that never turn a committed write into an error.

`transaction.on_commit(func, robust=True)` logs and swallows an exception of `func`, but its log
line reads `func.__qualname__`: a `functools.partial` has none, so a failing partial raised
AttributeError instead. Inside a transaction that surfaced after COMMIT; in autocommit (the
bid's compare-and-set write, where the callback runs at once) it turned an accepted bid into a
server error. Every after-commit call goes through here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction


def on_commit_robust(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
    """Call func(*args, **kwargs) after the current transaction commits (at once in autocommit);
    an exception is logged by Django, never raised."""

    def call() -> None:
        func(*args, **kwargs)

    call.__qualname__ = getattr(func, "__qualname__", repr(func))
    # what functools.partial shows, for a test that asks what was registered
    call.func, call.args, call.keywords = func, args, kwargs  # type: ignore[attr-defined]
    transaction.on_commit(call, robust=True)
