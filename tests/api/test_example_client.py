"""Issue 21 #7: a second client proves the API: examples/api_client.py plays a whole sale against
a live server (HTTP over a socket, not the test client) and the books agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import make_user
from tests.money import assert_books_balance
from trades.models import Trade

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-for-tests-1234"


def _client_module():
    path = Path(settings.BASE_DIR) / "examples" / "api_client.py"
    spec = importlib.util.spec_from_file_location("api_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_client_plays_a_whole_sale(live_server):
    seller, buyer = make_user(), make_user()
    lines: list[str] = []
    result = _client_module().play_sale(
        live_server.url, (seller.username, PASSWORD), (buyer.username, PASSWORD), say=lines.append
    )
    assert result["price"] == 40_000 and result["trade_status"] == "completed"
    assert result["buyer_paid"] == 40_000 and result["seller_received"] == 40_000
    assert Trade.objects.get(pk=result["trade_id"]).status == Trade.Status.COMPLETED
    assert any("즉시구매" in line for line in lines)
    assert_books_balance()  # the books agree after the whole sale
