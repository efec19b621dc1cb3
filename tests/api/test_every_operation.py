"""Every operation of the published contract, called with junk: odd path ids, junk bodies, with
and without a sign-in and an Idempotency-Key. Never a 5xx; every refusal is a documented
problem (the ApiClient holds each answer to /api/v1/openapi.json)."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import ApiClient, openapi
from tests.factories import make_auction

pytestmark = pytest.mark.django_db

PATH_VALUES = ["1", "999999999", "abc", "-1", "9" * 30, "%00"]
CONTENT = [
    ("application/x-www-form-urlencoded", b"amount=10000&text=hi"),
    ("multipart/form-data; boundary=", b"--x\r\n"),
    (
        "multipart/form-data; boundary=zz",
        b'--zz\r\nContent-Disposition: form-data; name="photos"\r\n\r\nnot a file\r\n--zz--\r\n',
    ),
    ("text/plain", b'{"amount": 10000}'),
]
BODIES = [None, b"{}", b"[]", b'{"amount": "10000", "text": 5, "reason": null}', b"\xff junk", b'{"a": NaN}']


def _operations():
    for template, item in openapi()["paths"].items():
        for method in item:
            yield method.upper(), template


@pytest.mark.parametrize(("method", "template"), sorted(set(_operations())))
def test_junk_never_gets_a_5xx(app, method, template):
    make_auction()
    clients = [app, ApiClient()]
    for i, value in enumerate(PATH_VALUES):
        path = re.sub(r"\{[^}]+\}", value, template)
        for j, body in enumerate(BODIES):
            client = clients[(i + j) % 2]
            extra = {"HTTP_IDEMPOTENCY_KEY": f"k-{i}-{j}"} if (i + j) % 3 else {}
            if method == "GET":
                response = client.get(path, **extra)
            else:
                response = client.generic(method, path, body or b"", content_type="application/json", **extra)
            assert response.status_code < 500, (method, path, body, response.status_code, response.content[:300])
    # other content types: a form, a broken multipart body, plain text; and too many query fields
    path = re.sub(r"\{[^}]+\}", "1", template)
    for content_type, body in CONTENT:
        response = app.generic(method, path, body, content_type=content_type, HTTP_IDEMPOTENCY_KEY="k-ct")
        assert response.status_code < 500, (method, path, content_type, response.status_code, response.content[:300])
    many = "&".join(f"x{i}=1" for i in range(1100))
    assert app.generic(method, f"{path}?{many}").status_code < 500
