"""/api/v1: the NinjaAPI, its routers and its one error contract (problem+json, api/problems.py).
OpenAPI 3.1 at /api/v1/openapi.json, the interactive docs at /api/v1/docs."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.renderers import JSONRenderer

from api import problems as p
from api.auth import AUTH
from api.routes import auctions, auth, chat, me, notifications, reviews, trades, wallet, ws
from neighborbid.errors import DomainError

UNSAFE = {"post", "put", "patch", "delete"}
STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    413: "Content Too Large",
    422: "Unprocessable Content",
    503: "Service Unavailable",
}


class NeighborBidAPI(NinjaAPI):
    """The generated OpenAPI document, completed with the refusals every operation of a kind
    can give whatever its code says (so the contract test can hold every answer to it): 400 (an
    unreadable request: junk JSON, too many query fields), 422 (a parameter or body that does not
    validate), 503 (the database away: nothing changed, Retry-After), 401 where a sign-in is
    needed, 403 on a signed-in write (a session without its CSRF token, a suspended account),
    413 where a body is read. Errors are served as
    application/problem+json."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        problem_ref = {"$ref": "#/components/schemas/Problem"}
        for item in schema["paths"].values():
            for method, operation in item.items():
                wanted = {400, 422, 503}
                if operation.get("security"):
                    wanted.add(401)
                    if method in UNSAFE:
                        wanted.add(403)
                if "requestBody" in operation:
                    wanted.add(413)
                responses = operation["responses"]
                for status in wanted:
                    if status not in responses and str(status) not in responses:
                        responses[status] = {"description": STATUS_TEXT[status]}
                for status, answer in list(responses.items()):
                    if int(status) >= 400:
                        answer["content"] = {"application/problem+json": {"schema": problem_ref}}
        return schema


class Utf8Renderer(JSONRenderer):
    """Korean text as UTF-8, not as escapes (JSON is UTF-8 by RFC 8259)."""

    json_dumps_params = {"ensure_ascii": False}  # noqa: RUF012 (ninja's own class attribute)


api = NeighborBidAPI(
    title="NeighborBid API",
    version="1",
    description=(
        "동네 경매 앱을 위한 JSON API. 인증: `Authorization: Bearer <기기 토큰>` (POST /auth/token) 또는 "
        "사이트의 세션 쿠키(+ CSRF). 오류는 모두 RFC 9457 `application/problem+json`이에요. "
        "돈이 움직이는 요청은 `Idempotency-Key` 헤더가 필요해요. 자세한 설명: docs/api.md"
    ),
    urls_namespace="api_v1",
    auth=AUTH,
    renderer=Utf8Renderer(),
)
api.add_router("/auth", auth.router)
api.add_router("/", me.router)
api.add_router("/auctions", auctions.router)
api.add_router("/wallet", wallet.router)
api.add_router("/watchlist", auctions.watchlist_router)
api.add_router("/trades", trades.router)
api.add_router("/notifications", notifications.router)
api.add_router("/", ws.router)
api.add_router("/", chat.router)
api.add_router("/", reviews.router)


@api.exception_handler(DomainError)
def _domain(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return p.domain_problem(exc)


@api.exception_handler(ValidationError)
def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors
    ]
    return p.simple(p.VALIDATION, errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return p.simple(p.UNAUTHORIZED)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja's own: 400 an unreadable body, 403 a failed CSRF check of a session request
    if exc.status_code == 403:
        return p.simple(p.CSRF_FAILED)
    if exc.status_code == 400:
        return p.simple(p.BAD_JSON)
    return p.problem(code="http_error", status=exc.status_code, title=str(exc))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return p.simple(p.NOT_FOUND)


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return p.simple(p.TOO_LARGE)


@api.exception_handler(MultiPartParserError)
@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, exc: Exception) -> HttpResponse:
    # too many query or form fields, too many files, a malformed multipart body: Django's 400
    return p.simple(p.BAD_REQUEST)


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    return p.unexpected_problem(request, exc)
