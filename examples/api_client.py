#!/usr/bin/env python3
"""A second client of the NeighborBid API (docs/api.md), standard library only: it plays one
whole sale through /api/v1 and nothing else.

    python3 examples/api_client.py --base http://127.0.0.1:8000 \\
        --seller minsu:demo-pass-1234 --buyer jiyoung:demo-pass-1234

The seller signs in on a "phone", lists an item with a buy-now price; the buyer signs in, tops up,
bids with a maximum, then buys it now (retrying the call with the same Idempotency-Key, as an app
on a flaky network would: the money moves once); the seller marks the hand-over, the buyer
confirms, and both sign their devices out. Every refusal is RFC 9457 problem+json; this client
prints its `detail` (or `title`) and stops. tests/api/test_example_client.py runs it against a
live server."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any


class Problem(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        super().__init__(f"{status} {body.get('code')}: {body.get('detail') or body.get('title')}")


class Api:
    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base.rstrip("/") + "/api/v1"
        self.token = token

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = None) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if key:
            headers["Idempotency-Key"] = key
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)  # noqa: S310 (the user's own base URL)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise Problem(error.code, json.loads(error.read() or b"{}")) from None
        return json.loads(raw) if raw else None

    def sign_in(self, username: str, password: str, device: str) -> None:
        answer = self.call("POST", "/auth/token", {"username": username, "password": password, "device_name": device})
        self.token = answer["token"]


def play_sale(base: str, seller: tuple[str, str], buyer: tuple[str, str], say=print) -> dict[str, Any]:
    """One whole sale through the API; returns what happened (ids, amounts, balances)."""
    s, b = Api(base), Api(base)
    s.sign_in(*seller, device="판매자 폰")
    b.sign_in(*buyer, device="구매자 폰")
    seller_before = s.call("GET", "/wallet")["balance"]

    item = s.call(
        "POST",
        "/auctions",
        {"title": "API로 파는 원목 의자", "start_price": 10_000, "buy_now_price": 40_000, "duration_hours": 24},
    )
    say(f"판매자: '{item['title']}' 등록 (#{item['id']}, 시작가 {item['state']['current_price']:,}원)")

    b.call("POST", "/wallet/top-ups", {"amount": 100_000}, key=str(uuid.uuid4()))
    buyer_before = b.call("GET", "/wallet")["balance"]
    placed = b.call(
        "POST", f"/auctions/{item['id']}/bids", {"amount": 10_000, "max_amount": 30_000}, key=str(uuid.uuid4())
    )
    say(f"구매자: {placed['amount']:,}원 입찰 (최대 {placed['your_max']:,}원까지 자동 입찰)")

    key = str(uuid.uuid4())
    bought = b.call("POST", f"/auctions/{item['id']}/buy-now", key=key)
    again = b.call("POST", f"/auctions/{item['id']}/buy-now", key=key)  # a retry: the same answer
    if not again["duplicate"] or again["price"] != bought["price"]:
        raise RuntimeError(f"a retried buy-now should answer the first purchase: {again}")
    say(f"구매자: {bought['price']:,}원에 즉시구매 (다시 보낸 요청은 같은 결과: duplicate)")

    trade = next(t for t in b.call("GET", "/trades?tab=buying")["items"] if t["auction_id"] == item["id"])
    s.call("POST", f"/trades/{trade['id']}/hand-over")
    done = b.call("POST", f"/trades/{trade['id']}/confirm")
    say(f"거래 #{trade['id']}: 전달 완료 → {done['status_label']}")

    result = {
        "auction_id": item["id"],
        "trade_id": trade["id"],
        "price": bought["price"],
        "trade_status": done["status"],
        "buyer_paid": buyer_before - b.call("GET", "/wallet")["balance"],
        "seller_received": s.call("GET", "/wallet")["balance"] - seller_before,
    }
    for api in (s, b):
        api.call("POST", "/auth/logout-everywhere")
    say(f"정산: 구매자 -{result['buyer_paid']:,}원, 판매자 +{result['seller_received']:,}원")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--seller", default="minsu:demo-pass-1234", help="username:password")
    parser.add_argument("--buyer", default="jiyoung:demo-pass-1234", help="username:password")
    args = parser.parse_args(argv)
    seller = tuple(args.seller.split(":", 1))
    buyer = tuple(args.buyer.split(":", 1))
    try:
        play_sale(args.base, seller, buyer)  # type: ignore[arg-type]
    except Problem as problem:
        print(f"멈췄어요: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
