"""Bad input of every kind answers a problem+json 4xx, never a 500, and changes nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import ApiClient
from tests.factories import make_auction, rid
from tests.money import world

pytestmark = pytest.mark.django_db

AMOUNTS = [
    "10000",  # a string
    10000.0,  # a float
    1e999,  # Infinity once parsed
    True,
    None,
    [10000],
    {"won": 10000},
    -10000,
    0,
    10**30,  # huge
    "１００００",  # full-width digits
    "١٠٠٠٠",  # Arabic-Indic digits
    "10,000원",
]


@pytest.mark.parametrize("amount", AMOUNTS, ids=repr)
def test_a_bad_amount_is_a_4xx_problem_and_nothing_moves(app, amount):
    auction = make_auction()
    before = world()
    for path in (f"/api/v1/auctions/{auction.pk}/bids", "/api/v1/wallet/top-ups", "/api/v1/wallet/withdrawals"):
        response = app.post_json(path, {"amount": amount}, key=rid())
        assert 400 <= response.status_code < 500, (path, amount, response.status_code, response.content)
        assert response["Content-Type"].startswith("application/problem+json")
    assert world() == before


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b"",
        b"[]",
        b'"amount"',
        b'{"amount": NaN}',
        b'{"amount": Infinity}',
        b'{"amount": 1' + b"0" * 5000 + b"}",  # past Python's int-from-text digit limit
        '{"amount": 10000, "extra": "\ud800"}'.encode("utf-8", "surrogatepass"),
        b'{"amount": 10000, "max_ammount": 50000}',  # a typo is refused, never ignored
        b"\xff\xfe\x00",
    ],
)
def test_junk_bodies_are_4xx_problems(app, raw):
    auction = make_auction()
    before = world()
    response = app.post(
        f"/api/v1/auctions/{auction.pk}/bids", raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY=rid()
    )
    assert 400 <= response.status_code < 500, (raw[:40], response.status_code, response.content)
    assert response.json()["status"] == response.status_code
    assert world() == before


def test_a_10_mb_body_is_413(app):
    before = world()
    body = b'{"amount": 10000, "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    response = app.post("/api/v1/wallet/top-ups", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=rid())
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert world() == before


@pytest.mark.parametrize(
    "query",
    [
        "?sort=nonsense",
        "?tab=moon",
        "?after=-1",
        "?after=abc",
        "?after=99999999999999999999999",
        "?km=7",
        "?category=weapons",
        "?q=" + "가" * 101,
    ],
)
def test_bad_list_parameters_are_422(query):
    response = ApiClient().get("/api/v1/auctions" + query)
    assert response.status_code == 422 and response.json()["code"] == "validation_error", response.content


def test_bad_path_ids_and_positions(app):
    assert app.get("/api/v1/auctions/abc").status_code in (404, 422)
    assert app.get("/api/v1/auctions/99999999999999999999999").status_code in (404, 422)
    for position in ({"latitude": "NaN", "longitude": 127}, {"latitude": 91, "longitude": 127}, {"latitude": 37.5}):
        assert app.post_json("/api/v1/neighbourhoods/nearest", position).status_code == 422
    assert ApiClient().get("/api/v1/neighbourhoods?q=").status_code == 422
    assert ApiClient().get("/api/v1/neighbourhoods?q=%00%00").status_code == 200


def test_an_unknown_path_is_a_404_problem(app):
    for path in ("/api/v1/nothing", "/api/v1/auctions/1/nothing/else", "/api/v1/wallet/deposit"):
        response = app.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
BODIES = st.one_of(
    JSON,
    st.fixed_dictionaries({"amount": JSON}, optional={"max_amount": JSON, "extra": JSON}),
)


@pytest.fixture
def fuzz_auction():
    return make_auction(start_price=10_000, buy_now_price=10**9)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, where=st.sampled_from(["bids", "top-ups", "withdrawals", "buy-now"]))
def test_no_json_body_is_ever_a_5xx(app, fuzz_auction, body, where):
    """Whatever JSON an app sends to a money call (floats, NaN, huge or negative numbers,
    strings, nesting), the answer is a success or a problem 4xx, never a 500."""
    auction = fuzz_auction.pk
    path = {
        "bids": f"/api/v1/auctions/{auction}/bids",
        "buy-now": f"/api/v1/auctions/{auction}/buy-now",
        "top-ups": "/api/v1/wallet/top-ups",
        "withdrawals": "/api/v1/wallet/withdrawals",
    }[where]
    raw = json.dumps(body, allow_nan=True)  # NaN and Infinity too, as a careless client sends them
    response = app.post(path, raw, content_type="application/json", HTTP_IDEMPOTENCY_KEY=rid())
    assert response.status_code < 500, (where, raw[:200], response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/problem+json")


def test_too_many_query_fields_or_a_broken_multipart_body_is_a_400(app):
    many = "&".join(f"x{i}=1" for i in range(1100))
    response = ApiClient().get("/api/v1/auctions?" + many)
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    auction = make_auction()
    broken = app.post(
        f"/api/v1/auctions/{auction.pk}/photos",
        b'--nope\r\nContent-Disposition: form-data; name="photos"\r\n\r\n',
        content_type="multipart/form-data; boundary=",
    )
    assert 400 <= broken.status_code < 500
