"""Structured logs: one line per request with the user id, JSON when LOG_FORMAT=json."""

from __future__ import annotations

import json
import logging

import pytest

from neighborbid.logs import JsonFormatter, PlainFormatter, log_event
from tests.factories import make_auction, make_user


@pytest.mark.django_db
def test_one_request_line_with_user_and_auction(client, caplog):
    user = make_user()
    auction = make_auction()
    client.force_login(user)
    with caplog.at_level(logging.INFO, logger="neighborbid.request"):
        response = client.get(f"/auctions/{auction.pk}/", HTTP_X_REQUEST_ID="abc-123")
    lines = [r for r in caplog.records if r.name == "neighborbid.request"]
    assert len(lines) == 1
    fields = lines[0].fields
    assert fields["user_id"] == user.pk and fields["auction_id"] == auction.pk
    assert fields["status"] == response.status_code == 200 and fields["method"] == "GET"
    assert fields["request_id"] == "abc-123" == response["X-Request-ID"]
    assert fields["view"] == "auctions:detail"


@pytest.mark.django_db
def test_a_forged_request_id_is_replaced(client, caplog):
    with caplog.at_level(logging.INFO, logger="neighborbid.request"):
        response = client.get("/admin/login/", HTTP_X_REQUEST_ID="x" * 200 + "\n")
    assert len(response["X-Request-ID"]) == 16
    assert [r for r in caplog.records if r.name == "neighborbid.request"][0].fields["user_id"] is None


def test_formatters():
    logger = logging.getLogger("neighborbid.test")
    record = logger.makeRecord(
        "neighborbid.test", logging.INFO, __file__, 1, "money bid auction=%s ok", (5,), None, extra={"fields": {"a": 1}}
    )
    payload = json.loads(JsonFormatter().format(record))
    assert payload["msg"] == "money bid auction=5 ok" and payload["a"] == 1 and payload["level"] == "INFO"
    assert PlainFormatter().format(record).endswith("money bid auction=5 ok a=1")


def test_log_event(caplog):
    with caplog.at_level(logging.INFO, logger="neighborbid.realtime"):
        log_event(logging.getLogger("neighborbid.realtime"), "ws.bid", user_id=3, auction_id=9, outcome="ok")
    record = caplog.records[-1]
    assert record.fields == {"event": "ws.bid", "user_id": 3, "auction_id": 9, "outcome": "ok"}
