"""Structured logs: one JSON object per line (LOG_FORMAT=json, the production default in
docker-compose.yml) or readable key=value text (LOG_FORMAT=plain, development).

Structured fields travel in `extra={"fields": {...}}`; the request log (neighborbid.middleware)
and any caller may add them. Plain %-style messages (the money services' "money bid auction=..
user=.. ok") keep working in both formats."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict) and fields:
            text += " " + " ".join(f"{key}={value}" for key, value in fields.items() if value is not None)
        return text


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields) -> None:
    """One structured line for something that is not an HTTP request (a socket connect, frame or
    close): `log_event(logger, "ws.bid", user_id=7, auction_id=12, outcome="ok")`."""
    logger.log(level, event, extra={"fields": {"event": event, **fields}})


P = ParamSpec("P")
R = TypeVar("R")

_ACTORS = ("actor", "staff_user")  # the acting user; `user` / `user_id` name the one acted on


def money_log(name: str, *, refusal: Any = None, noop: bool = False, **fields: Any) -> None:
    """The one structured line of a money call's outcome (money_action's, and each bid a
    batch decides: auctions.services.bid_batch): ok, refused with the error code, or noop."""
    if refusal is not None:
        fields = {"outcome": "refused", "code": refusal.code, **fields}
    else:
        fields = {"outcome": "noop" if noop else "ok", **fields}
    log_event(logging.getLogger("neighborbid.money"), f"money.{name}", **fields)


def money_action(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a money service: one structured line per call with its outcome (ok, refused
    with the error code, or nothing to do), the acting user, the auction and the amount."""
    import functools

    from neighborbid.errors import DomainError

    def decorate(service: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(service)
        def logged(*args: P.args, **kwargs: P.kwargs) -> R:
            fields: dict[str, Any] = {"auction_id": kwargs.get("auction_id"), "amount": kwargs.get("amount")}
            for key in _ACTORS:
                actor = kwargs.get(key)
                if actor is not None:
                    fields["user_id"] = getattr(actor, "pk", None)
                    break
            target = kwargs.get("user")
            if target is not None:
                fields["target_user_id"] = getattr(target, "pk", None)
            try:
                result = service(*args, **kwargs)
            except DomainError as exc:
                money_log(name, refusal=exc, **fields)
                raise
            money_log(name, noop=result is None, **fields)
            return result

        return logged

    return decorate
