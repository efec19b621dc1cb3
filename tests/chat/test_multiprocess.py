"""Chat on two real Daphne processes sharing PostgreSQL and a Redis of our own: a message
from a socket on one reaches the socket on the other; Redis restarted mid-conversation loses
nothing after `sync`; with Redis stopped the room still works over plain HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import urllib.parse
import urllib.request

import pytest
from django.conf import settings
from django.test import Client

from chat.models import Message
from tests.chat.conftest import make_sale
from tests.conftest import missing
from tests.realtime.servers import Daphne, RedisServer, free_ports, server_env

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cluster(tmp_path):
    if shutil.which("redis-server") is None:
        missing("redis-server is needed to restart a Redis of our own")
    redis_port = free_ports(1, start=6380, stop=6390)[0]
    redis = RedisServer(redis_port).start()
    env = server_env(redis_url=redis.url, bus_prefix=f"nbchat{redis_port}", CHAT_MESSAGE_BURST="100")
    servers = [Daphne(port, env, tmp_path / f"daphne-{port}.log") for port in free_ports(2, start=8300, stop=8340)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait()
        yield redis, servers
    finally:
        for server in servers:
            server.stop()
        redis.stop()


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class ChatSocket:
    def __init__(self, conn) -> None:
        self.conn = conn
        self.seq = 0
        self.seen: list[int] = []

    @classmethod
    async def open(cls, server: Daphne, room_id: int, session: str, *, seq: int = 0) -> ChatSocket:
        from websockets.asyncio.client import connect

        conn = await connect(
            server.ws_url(f"/ws/chat/{room_id}/"),
            origin=server.url,
            additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
            open_timeout=10,
        )
        sock = cls(conn)
        sock.seq = seq
        ready = await sock.next()
        assert ready["type"] == "ready", ready
        await sock.sync()
        return sock

    async def next(self, timeout: float = 10) -> dict:
        frame = json.loads(await asyncio.wait_for(self.conn.recv(), timeout))
        if frame["type"] == "message":
            self.take(frame["message"])
        return frame

    def take(self, message: dict, *, answer: bool = False) -> None:
        """`message` frames come once each, in order; a sync answer may repeat what arrived
        while it was on its way (the client names its seq when it asks)."""
        if answer and message["seq"] <= self.seq:
            return
        assert message["seq"] == self.seq + 1, f"out of order: {message['seq']} after {self.seq}"
        self.seq = message["seq"]
        self.seen.append(message["seq"])

    async def until(self, predicate, timeout: float = 10) -> dict:
        while True:
            frame = await self.next(timeout)
            if predicate(frame):
                return frame

    async def sync(self) -> dict:
        await self.conn.send(json.dumps({"type": "sync", "request_id": f"s{self.seq}", "seq": self.seq}))
        answer = await self.until(lambda m: m["type"] == "sync")
        for message in answer["messages"]:
            self.take(message, answer=True)
        return answer

    async def say(self, text: str, request_id: str) -> dict:
        await self.conn.send(json.dumps({"type": "send", "request_id": request_id, "text": text}))
        return await self.until(lambda m: m["type"] in ("ack", "error") and m.get("request_id") == request_id)


def test_a_message_crosses_processes_and_a_redis_restart_loses_nothing_after_sync(cluster):
    redis, (server_a, server_b) = cluster
    sale = make_sale()
    buyer_session, seller_session = session_of(sale.buyer), session_of(sale.seller)

    async def scenario():
        buyer = await ChatSocket.open(server_a, sale.room.pk, buyer_session)
        seller = await ChatSocket.open(server_b, sale.room.pk, seller_session)

        for n in range(5):
            ack = await buyer.say(f"안녕하세요 {n}", f"b-{n}")
            assert ack["type"] == "ack", ack
            got = await seller.until(lambda m, s=ack["seq"]: m["type"] == "message" and m["message"]["seq"] == s)
            assert got["message"]["text"] == f"안녕하세요 {n}"
        reply = await seller.say("네, 반가워요", "s-0")
        await buyer.until(lambda m, s=reply["seq"]: m["type"] == "message" and m["message"]["seq"] == s)

        # Redis goes away mid-conversation: messages still commit and are acknowledged...
        redis.stop()
        down = [await buyer.say(f"레디스 없이 {n}", f"down-{n}") for n in range(3)]
        assert [a["type"] for a in down] == ["ack"] * 3
        # ...Redis comes back empty; a sync (as after any reconnect) brings every missed one.
        redis.start()
        await asyncio.sleep(0.5)
        answer = await seller.sync()
        assert seller.seq == down[-1]["seq"], answer
        # and new messages flow live again through both processes
        again = await seller.say("다시 연결됐어요", "s-after")
        await buyer.until(lambda m, s=again["seq"]: m["type"] == "message" and m["message"]["seq"] == s, timeout=15)
        if seller.seq < again["seq"]:  # the sender's own copy may arrive after its ack
            await seller.until(lambda m, s=again["seq"]: m["type"] == "message" and m["message"]["seq"] == s)
        assert seller.seen == list(range(1, again["seq"] + 1))
        assert buyer.seen == list(range(1, again["seq"] + 1))
        await buyer.conn.close()
        await seller.conn.close()

    asyncio.run(scenario())
    assert Message.objects.filter(room=sale.room).count() == 10


class HttpUser:
    """A plain HTTP client with a session cookie (and the CSRF cookie once a page set it)."""

    def __init__(self, server: Daphne, session: str) -> None:
        self.server = server
        self.cookies = {settings.SESSION_COOKIE_NAME: session}

    def open(self, path: str, data: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(f"{self.server.url}{path}", data=body, method="POST" if data else "GET")
        request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        response = urllib.request.urlopen(request, timeout=10)  # follows the redirect after a POST
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, response.read().decode()


def test_with_redis_stopped_the_http_room_still_sends_and_shows_messages(cluster):
    redis, (server_a, server_b) = cluster
    sale = make_sale()
    redis.stop()
    buyer = HttpUser(server_a, session_of(sale.buyer))
    _, page = buyer.open(f"/chat/{sale.room.pk}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, room = buyer.open(
        f"/chat/{sale.room.pk}/send/", {"text": "레디스가 없어도 보여요", "csrfmiddlewaretoken": token}
    )
    assert status == 200 and "레디스가 없어도 보여요" in room

    seller = HttpUser(server_b, session_of(sale.seller))
    _, recheck = seller.open(f"/chat/{sale.room.pk}/messages/?after=0")
    assert [m["text"] for m in json.loads(recheck)["messages"]] == ["레디스가 없어도 보여요"]
    assert "레디스가 없어도 보여요" in seller.open(f"/chat/{sale.room.pk}/")[1]
