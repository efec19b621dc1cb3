"""The API's tests go through HTTP (Django's test client) against real PostgreSQL and Redis.
Every answer any test here receives is checked against the published contract
(/api/v1/openapi.json): its status must be documented for that operation and its body must
validate against that status's schema (jsonschema, Draft 2020-12); errors must be
application/problem+json. So each test is also a schema test of the answers it provokes."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import jsonschema
import pytest
from django.test import Client

from tests.factories import make_user

PASSWORD = "pw-for-tests-1234"  # tests.factories.make_user's


@cache
def openapi() -> dict[str, Any]:
    from api.v1 import api

    return json.loads(json.dumps(api.get_openapi_schema(), default=str))


@cache
def _operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    found = []
    for template, item in openapi()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$")
        found.extend((pattern, method.upper(), operation) for method, operation in item.items())
    return found


VALIDATED: list[tuple[str, str, int]] = []  # (method, path template, status): what the tests covered


def check_against_schema(method: str, path: str, response) -> None:
    path = path.split("?", 1)[0]
    matches = [(pattern, op) for pattern, m, op in _operations() if m == method and pattern.match(path)]
    if not matches:
        assert response.status_code in (404, 405), f"{method} {path}: no such operation, yet {response.status_code}"
        return
    # the most specific template wins (/auctions/{id}/bids over /auctions/{id})
    pattern, operation = max(matches, key=lambda pair: len(pair[0].pattern))
    status = str(response.status_code)
    responses = {str(k): v for k, v in operation["responses"].items()}
    assert status in responses, (
        f"{method} {path} answered {status}, which its schema does not document: {list(responses)}"
    )
    content_type = response.headers.get("Content-Type", "")
    if response.status_code == 204:
        assert not response.content
    else:
        wanted = "application/problem+json" if response.status_code >= 400 else "application/json"
        assert content_type.startswith(wanted), (method, path, status, content_type)
        schema = responses[status]["content"][wanted]["schema"]
        body = json.loads(response.content)
        jsonschema.validate(
            body, {**schema, "components": openapi()["components"]}, cls=jsonschema.Draft202012Validator
        )
    VALIDATED.append((method, pattern.pattern, response.status_code))


class ApiClient(Client):
    """A test client whose every /api/ answer is held to the OpenAPI document."""

    def __init__(self, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token

    def request(self, **request: Any):  # type: ignore[override]
        if self.token and "HTTP_AUTHORIZATION" not in request:
            request["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        response = super().request(**request)
        path = request["PATH_INFO"]
        if path.startswith("/api/v1/") and not path.startswith(("/api/v1/docs", "/api/v1/openapi.json")):
            check_against_schema(request["REQUEST_METHOD"], path, response)
        return response

    def post_json(self, path: str, data: Any = None, *, key: str | None = None, **extra: Any):
        if key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        body = data if isinstance(data, (str, bytes)) else json.dumps(data if data is not None else {})
        return self.post(path, body, content_type="application/json", **extra)


def token_for(user, device_name: str = "테스트 폰") -> str:
    response = ApiClient().post_json(
        "/api/v1/auth/token", {"username": user.username, "password": PASSWORD, "device_name": device_name}
    )
    assert response.status_code == 201, response.content
    return response.json()["token"]


def app_client(user) -> ApiClient:
    """A client signed in the way a phone app is: a device token, no cookies, no CSRF."""
    return ApiClient(token=token_for(user))


@pytest.fixture
def user(db):
    return make_user(balance=1_000_000)


@pytest.fixture
def app(user) -> ApiClient:
    return app_client(user)
