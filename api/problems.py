"""RFC 9457 problem details (`application/problem+json`) for every refusal of the API.

One shape for all of them: `type` (a URN naming the problem, `urn:neighborbid:problem:<code>`),
`title` (the problem's fixed wording, 해요체), `status`, `detail` (this occurrence's wording when it
says more than the title, e.g. "최소 입찰가는 12,000원이에요."), `code` (the stable domain code the
WebSocket protocol uses too) and the extension members the pages show (e.g. `min_next_bid`,
`retry_after`, validation `errors`). A DomainError keeps its own http_status, except
`duplicate_request`, which the Idempotency-Key convention answers with 422 (the IETF
httpapi idempotency-key draft: the same key with another payload is unprocessable).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse

from neighborbid.errors import DomainError, DuplicateRequest, LoginRequired, RateLimited, ServiceUnavailable
from neighborbid.unavailable import as_service_unavailable, is_unavailable

logger = logging.getLogger("neighborbid.api")

PROBLEM_TYPE = "urn:neighborbid:problem:"
CONTENT_TYPE = "application/problem+json"
API_STATUS: dict[type[DomainError], int] = {DuplicateRequest: 422}

# The API's own refusals (not domain errors): code -> (status, title).
BAD_JSON = ("bad_json", 400, "요청 본문을 JSON으로 읽을 수 없어요. JSON 객체 하나를 보내 주세요.")
BAD_REQUEST = ("bad_request", 400, "요청을 읽을 수 없어요. 항목이 너무 많거나 형식이 잘못됐어요.")
VALIDATION = ("validation_error", 422, "입력한 내용을 확인해 주세요.")
UNAUTHORIZED = ("login_required", 401, LoginRequired.message)
CSRF_FAILED = (
    "csrf_failed",
    403,
    "보안 토큰(CSRF)이 없거나 맞지 않아요. 페이지를 새로 고치거나 앱 토큰으로 요청해 주세요.",
)
NOT_FOUND = ("not_found", 404, "찾을 수 없어요.")
TOO_LARGE = ("payload_too_large", 413, "요청 본문이 너무 커요.")
SERVER_ERROR = ("server_error", 500, "일시적인 오류가 발생했어요. 같은 요청 번호로 다시 시도해 주세요.")


def problem(
    *,
    code: str,
    status: int,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    body: dict[str, Any] = {"type": PROBLEM_TYPE + code, "title": title, "status": status, "code": code}
    if detail and detail != title:
        body["detail"] = detail
    body.update(extra)
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def simple(kind: tuple[str, int, str], **extra: Any) -> HttpResponse:
    code, status, title = kind
    return problem(code=code, status=status, title=title, **extra)


RESERVED = ("type", "title", "status", "detail", "instance", "code")


def domain_problem(exc: DomainError) -> HttpResponse:
    """A domain detail named like a member of the problem itself is renamed `<code>_<name>`
    (a trade's state in `trade_state`'s details: `trade_state_status`), never dropped."""
    status = API_STATUS.get(type(exc), exc.http_status)
    headers = {}
    extra = {(f"{exc.code}_{key}" if key in RESERVED else key): value for key, value in exc.details.items()}
    retry_after = extra.get("retry_after")
    if isinstance(retry_after, int) and retry_after > 0:
        headers["Retry-After"] = str(retry_after)
    return problem(code=exc.code, status=status, title=type(exc).message, detail=exc.message, headers=headers, **extra)


def unexpected_problem(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """Not a refusal: the database is away (503 with Retry-After, nothing changed) or a bug (500,
    logged with its traceback, as problem+json so an app can still read it)."""
    if is_unavailable(exc):
        error = as_service_unavailable(exc)
        logger.warning("503 %s %s: %s", request.method, request.path, type(exc).__name__)
        return domain_problem(error)
    logger.error("500 %s %s", request.method, request.path, exc_info=exc)
    return simple(SERVER_ERROR)


__all__ = [
    "API_STATUS",
    "BAD_JSON",
    "BAD_REQUEST",
    "CSRF_FAILED",
    "NOT_FOUND",
    "PROBLEM_TYPE",
    "RateLimited",
    "ServiceUnavailable",
    "TOO_LARGE",
    "UNAUTHORIZED",
    "VALIDATION",
    "domain_problem",
    "problem",
    "simple",
    "unexpected_problem",
]
