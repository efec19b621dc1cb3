"""The compose services' own commands, run on this machine: the one-shot migrate, two Daphne web
processes and the settlement worker, with the compose environment (production settings) pointed
at the local PostgreSQL (this run's test database) and Redis. A bid is driven through one web
process and seen live on the other's WebSocket and page; the worker settles an auction."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
import websockets
import yaml
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone

from accounts.models import User
from auctions.models import Auction
from auctions.services import bid_place
from tests.factories import make_auction, make_user, rid, set_end
from tests.money import assert_books_balance

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PORTS = (8301, 8302)
PASSWORD = "pw-for-tests-1234"


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def local_command(command: list[str], *, port: int | None = None) -> list[str]:
    """The compose command, run here: this interpreter for `python`, loopback and a free port."""
    out = []
    for arg in command:
        if arg == "python":
            arg = sys.executable
        elif arg == "daphne":
            arg = str(Path(sys.executable).parent / "daphne")
        elif arg == "0.0.0.0":
            arg = "127.0.0.1"
        elif port is not None and arg == "8000":
            arg = str(port)
        out.append(arg.replace("python manage.py", f"{sys.executable} manage.py"))
    return out


def local_env(tmp_path: Path) -> dict[str, str]:
    """The compose app environment with this machine's services and values."""
    compose_env = compose_services()["web"]["environment"]
    db = connection.settings_dict
    env = {k: str(v) for k, v in compose_env.items()}
    env.update(
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CSRF_TRUSTED_ORIGINS="",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        # one database here, no standby (make cluster and tests/cluster/ run the standby for real);
        # this machine's one Redis, not compose's sentinels
        DATABASE_REPLICA_URL="",
        REDIS_URL=os.environ["REDIS_URL"],
        BUS_PREFIX=f"nbsmoke{secrets.token_hex(3)}",
        MEDIA_ROOT=str(tmp_path / "media"),
        STATIC_ROOT=str(tmp_path / "static"),
        DB_POOL_MAX_SIZE="4",
        WORKER_INTERVAL_SECONDS="0.2",
        LOG_LEVEL="INFO",
        # Web Push off here, as a deployment without keys (compose reads them from .env)
        VAPID_PRIVATE_KEY="",
        VAPID_PUBLIC_KEY="",
        VAPID_SUBJECT="",
    )
    assert "${" not in "".join(env.values())
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    return {**base, **env}


class Http:
    """A tiny client that talks to Daphne as nginx would: X-Forwarded-Proto https, the client's
    address appended to X-Forwarded-For, and it keeps (secure) cookies itself."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, dict, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        headers = {
            "Host": f"127.0.0.1:{self.port}",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.50",
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        body = None
        if data is not None:
            body = urlencode({"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **data})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://127.0.0.1:{self.port}"
            headers["Referer"] = f"https://127.0.0.1:{self.port}{path}"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def json(self, path: str) -> tuple[int, dict]:
        status, _, text = self.request("GET", path)
        return status, json.loads(text)


def wait_until(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, http.client.HTTPException) as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def stack(tmp_path, transactional_db):
    services = compose_services()
    env = local_env(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()

    # migrate (one-shot, as compose runs it before web and worker), then collectstatic as the
    # image build does (production settings serve hashed static files)
    migrate = subprocess.run(
        local_command(services["migrate"]["command"]), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    assert "moderators" in migrate.stdout
    static = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert static.returncode == 0, static.stderr

    processes: dict[str, subprocess.Popen] = {}
    files = []
    for name, command in [
        ("web1", local_command(services["web"]["command"], port=PORTS[0])),
        ("web2", local_command(services["web"]["command"], port=PORTS[1])),
        ("worker", local_command(services["worker"]["command"])),
    ]:
        out = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed below
        files.append(out)
        processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        for port in PORTS:
            wait_until(lambda port=port: Http(port).request("GET", "/healthz")[0] == 200, timeout=30, what="healthz")
        yield {"processes": processes, "logs": logs, "env": env}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for out in files:
            out.close()


async def next_frame(ws, predicate, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no matching frame"
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if predicate(frame):
            return frame


def test_a_bid_through_one_web_process_is_seen_on_the_other(stack):
    for port in PORTS:
        status, body = Http(port).json("/readyz")
        assert status == 200 and body["checks"]["database"]["ok"] and body["checks"]["redis"]["used"], body

    seller = make_user()
    bidder = make_user(balance=500_000)
    # the suite hashes with MD5 for speed; the servers run the production hashers
    hashed = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    User.objects.filter(pk=bidder.pk).update(password=hashed)
    auction = make_auction(seller=seller, start_price=10_000, is_national=True)

    # the bidder signs in on web1 (production settings: CSRF, secure cookies behind the proxy)
    web1 = Http(PORTS[0])
    status, _, page = web1.request("GET", "/accounts/login/")
    assert status == 200 and "csrftoken" in web1.cookies
    status, headers, _ = web1.request("POST", "/accounts/login/", {"username": bidder.username, "password": PASSWORD})
    assert status == 302 and "sessionid" in web1.cookies, headers
    assert "content-security-policy" in headers and "strict-transport-security" in headers

    async def scenario():
        origin = f"https://127.0.0.1:{PORTS[1]}"
        async with websockets.connect(f"ws://127.0.0.1:{PORTS[1]}/ws/auctions/{auction.pk}/", origin=origin) as ws:
            snapshot = await next_frame(ws, lambda f: f.get("type") == "snapshot")
            assert snapshot["current_price"] == 10_000 and snapshot["bid_count"] == 0
            amount = snapshot["min_next_bid"]
            status, _, _ = await asyncio.to_thread(
                web1.request, "POST", f"/auctions/{auction.pk}/bid/", {"amount": str(amount), "request_id": rid()}
            )
            assert status == 302
            state = await next_frame(ws, lambda f: f.get("type") == "state" and f.get("bid_count") == 1)
            return amount, state

    amount, state = asyncio.run(scenario())
    assert state["current_price"] == amount
    status, _, page = Http(PORTS[1]).request("GET", f"/auctions/{auction.pk}/")
    assert status == 200 and f"{amount:,}" in page

    # the worker settles an auction that has ended
    ending = make_auction(seller=seller, start_price=5_000, is_national=True)
    bid_place(auction_id=ending.pk, actor=bidder, amount=5_000, request_id=rid())
    set_end(ending, timezone.now() + timedelta(seconds=1))
    wait_until(
        lambda: Auction.objects.get(pk=ending.pk).status == Auction.Status.SOLD, timeout=20, what="the worker to settle"
    )
    assert_books_balance()

    # one structured (JSON) line per request, with the user id once signed in
    time.sleep(0.2)
    lines = [json.loads(line) for line in (stack["logs"] / "web1.log").read_text().splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("logger") == "neighborbid.request"]
    bid_line = next(line for line in requests if line["path"] == f"/auctions/{auction.pk}/bid/")
    assert bid_line["user_id"] == bidder.pk and bid_line["status"] == 302 and bid_line["ip"] == "203.0.113.50"
    assert bid_line["auction_id"] == auction.pk
    assert any(line.get("event") == "money.bid" and line.get("outcome") == "ok" for line in lines)

    # the worker stops cleanly on SIGTERM (docker compose stop / scale down)
    worker = stack["processes"]["worker"]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    assert re.search(r"worker stopped", (stack["logs"] / "worker.log").read_text())
