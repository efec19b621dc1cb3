"""Issue 23 #3: the deployment's topology (`make cluster`), broken on purpose.

Each test drives a live national auction through nginx as its users do (tests/cluster/live.py:
reconnect through nginx, resync by the snapshot's seq, resend an unanswered bid with the same
request_id), breaks one part for real (SIGKILL), and then checks what a user and the books see:
every watcher on the final price, every acknowledged bid exactly once in the database, the
ledger audit clean and no won created or lost."""

from __future__ import annotations

import asyncio
import signal
import time

import redis

from tests.cluster.conftest import WEB_PORTS
from tests.cluster.live import Chain, LiveSocket


def bids_in_db(cluster, auction_id: int) -> tuple[list[str], int]:
    """The request ids of the bidders' own bid rows (not the automatic ones), and the price."""
    with cluster.primary() as conn:
        rows = conn.execute(
            "SELECT client_request_id FROM auctions_bid WHERE auction_id = %s AND kind <> 'auto' ORDER BY id",
            [auction_id],
        ).fetchall()
        price = conn.execute("SELECT current_price FROM auctions_auction WHERE id = %s", [auction_id]).fetchone()[0]
    return [row[0] for row in rows], price


async def open_sockets(seeded: dict, watchers: int) -> tuple[list[LiveSocket], list[LiveSocket]]:
    auction = seeded["auction"]
    bidders = [await LiveSocket(auction, cookie).open() for cookie in seeded["cookies"]]
    watching = [await LiveSocket(auction).open() for _ in range(watchers)]
    return bidders, watching


def test_a_daphne_killed_mid_auction_loses_no_watcher_and_no_bid(cluster, live_auction):
    money_before = cluster.money_total()
    auction = live_auction["auction"]
    victim = f"daphne-{WEB_PORTS[0]}"

    async def scenario():
        bidders, watchers = await open_sockets(live_auction, watchers=12)
        everyone = [*bidders, *watchers]

        async def kill_at_eight(n: int) -> None:
            if n == 7:
                cluster.kill(victim, signal.SIGKILL)  # no goodbye: its sockets just drop

        chain = Chain(bidders)
        await chain.run(20, "kill", each=kill_at_eight)
        for sock in everyone:
            await sock.until(lambda s: s.seq >= chain.seq)
        try:
            return (
                chain.acked,
                [s.price for s in everyone],
                sum(s.reconnects for s in everyone),
                [s.out_of_order for s in everyone],
            )
        finally:
            for sock in everyone:
                await sock.close()

    try:
        acked, prices, reconnects, disorder = asyncio.run(scenario())
    except BaseException:
        print(cluster.log("nginx-error"), cluster.log(f"daphne-{WEB_PORTS[1]}"))
        raise
    finally:
        cluster.script("restart-web", str(WEB_PORTS[0]))  # the next test starts with three again
    in_db, price = bids_in_db(cluster, auction)
    assert reconnects >= 1, "the killed server held none of the sockets: the test proved nothing"
    assert set(prices) == {price}, prices  # every watcher on the final price
    assert in_db == acked and len(acked) == 20  # every acknowledged bid once: none lost, none doubled
    assert disorder == [[] for _ in disorder]  # no state older than one already shown
    cluster.audit()
    assert cluster.money_total() == money_before


def test_redis_primary_killed_sentinel_promotes_and_live_delivery_resumes(cluster, live_auction):
    money_before = cluster.money_total()
    sentinel = redis.Redis(port=26379)
    old_primary = int(sentinel.sentinel_get_master_addr_by_name("nbredis")[1])

    async def scenario():
        bidders, watchers = await open_sockets(live_auction, watchers=9)
        everyone = [*bidders, *watchers]
        chain = Chain(bidders)
        await chain.run(5, "before")
        for sock in watchers:
            await sock.until(lambda s: s.seq >= chain.seq)

        cluster.kill(f"redis-{old_primary}", signal.SIGKILL)
        killed_at = time.monotonic()
        # bids keep committing while Redis fails over; watch for the first one every watcher gets live
        resumed_at = None
        while resumed_at is None:
            assert time.monotonic() - killed_at < 30, "live delivery did not come back within 30 s"
            await chain.bid(f"during-{chain.turn}")  # acknowledged: the money path never needed Redis
            placed, seq = time.monotonic(), chain.seq
            try:
                await asyncio.gather(*(sock.until(lambda s, seq=seq: s.seq >= seq, timeout=1.0) for sock in watchers))
            except AssertionError:
                continue
            # live, not a resync: every watcher received this very seq as a state frame
            if all(any(arrived >= placed and got == seq for arrived, got in s.states) for s in watchers):
                resumed_at = time.monotonic()
        await chain.run(5, "after")
        for sock in everyone:
            await sock.until(lambda s: s.seq >= chain.seq)
        try:
            return chain.acked, resumed_at - killed_at, [s.price for s in everyone]
        finally:
            for sock in everyone:
                await sock.close()

    try:
        acked, resumed_after, prices = asyncio.run(scenario())
    except BaseException:
        print(cluster.log("sentinel-26379"), cluster.log(f"daphne-{WEB_PORTS[0]}"))
        raise
    new_primary = int(sentinel.sentinel_get_master_addr_by_name("nbredis")[1])
    assert new_primary != old_primary  # Sentinel promoted the replica
    assert resumed_after <= 10, f"live delivery resumed {resumed_after:.1f} s after the kill"
    in_db, price = bids_in_db(cluster, live_auction["auction"])
    assert set(prices) == {price}
    assert in_db == acked  # every acknowledged bid once
    cluster.audit()
    assert cluster.money_total() == money_before
    print(f"redis failover: live delivery resumed {resumed_after:.1f} s after the primary was killed")


def test_the_demo_works_through_nginx(cluster):
    """`make cluster` serves the demo: a demo neighbour signs in with the login form through nginx
    and sees their own page; static files come through too; nginx tags each request."""
    import re

    import requests

    from tests.cluster.conftest import NGINX

    session = requests.Session()
    login = session.get(f"{NGINX}/accounts/login/", timeout=10)
    assert login.status_code == 200 and login.headers.get("X-Request-ID")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    signed_in = session.post(
        f"{NGINX}/accounts/login/",
        data={"username": "minsu", "password": "demo-pass-1234", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{NGINX}/accounts/login/"},
        timeout=10,
    )
    assert signed_in.status_code == 200 and "/accounts/login/" not in signed_in.url  # redirected on: signed in
    me = session.get(f"{NGINX}/me/", timeout=10, allow_redirects=False)
    assert me.status_code == 200, me.status_code
    css = re.search(r'href="(/static/[^"]+\.css)"', me.text).group(1)
    assert session.get(NGINX + css, timeout=10).status_code == 200


def established_per_web_port() -> list[int]:
    """Open TCP connections each Daphne of the cluster has accepted (from /proc/net/tcp)."""
    wanted = {f"{port:04X}": n for n, port in enumerate(WEB_PORTS)}
    counts = [0] * len(WEB_PORTS)
    with open("/proc/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            port = fields[1].rsplit(":", 1)[1]
            if fields[3] == "01" and port in wanted:
                counts[wanted[port]] += 1
    return counts


async def door(auction_id: int, cookie: str):
    """The bid door through nginx, and its first frame (a snapshot)."""
    import json

    from websockets.asyncio.client import connect

    from tests.cluster.live import NGINX_WS, ORIGIN

    conn = await connect(
        f"{NGINX_WS}/ws/auctions/{auction_id}/bid/", origin=ORIGIN, additional_headers={"Cookie": cookie}
    )
    snapshot = json.loads(await asyncio.wait_for(conn.recv(), 5))
    assert snapshot["type"] == "snapshot", snapshot
    return conn, snapshot


async def bid_over(conn, amount: int, request_id: str) -> dict:
    import json

    await conn.send(json.dumps({"type": "bid", "amount": amount, "request_id": request_id}))
    return json.loads(await asyncio.wait_for(conn.recv(), 10))


def test_the_bid_door_of_one_auction_reaches_one_process_and_moves_when_it_dies(cluster, live_auction):
    """nginx hashes the bid door by auction (deploy/nginx/proxy.conf): every door socket of one
    auction reaches the same Daphne; when that one is SIGKILLed, a new door reaches another and
    its bid lands once; the books balance."""
    money_before = cluster.money_total()
    auction, cookies = live_auction["auction"], live_auction["cookies"]
    state: dict = {}

    async def open_four() -> list:
        before = established_per_web_port()
        doors = [await door(auction, cookies[n % 2]) for n in range(4)]
        state["added"] = [a - b for a, b in zip(established_per_web_port(), before, strict=True)]
        return doors

    async def first_part() -> None:
        doors = await open_four()
        conn, snapshot = doors[0]
        ack = await bid_over(conn, snapshot["min_next_bid"], "door-1")
        assert ack["type"] == "ack" and ack["request_id"] == "door-1", ack
        state["price"] = ack["state"]["current_price"]
        for conn, _ in doors:
            await conn.close()

    asyncio.run(first_part())
    # given: the four door sockets of the auction all went to one process
    assert sorted(state["added"]) == [0, 0, 4], state["added"]
    home = WEB_PORTS[state["added"].index(4)]

    # when that process dies
    cluster.kill(f"daphne-{home}", signal.SIGKILL)
    try:

        async def second_part() -> dict:
            deadline = time.monotonic() + 30
            while True:  # nginx marks the dead one failed and rehashes the handshake to another
                try:
                    conn, snapshot = await door(auction, cookies[1])
                    break
                except Exception:
                    assert time.monotonic() < deadline, "no door through nginx within 30 s"
                    await asyncio.sleep(0.2)
            try:
                return await bid_over(conn, snapshot["min_next_bid"], "door-2")
            finally:
                await conn.close()

        ack = asyncio.run(second_part())
    finally:
        cluster.script("restart-web", str(home))
    # then the bid through the new door landed, once, and the books balance
    assert ack["type"] == "ack" and ack["state"]["current_price"] > state["price"], ack
    in_db, price = bids_in_db(cluster, auction)
    assert in_db == ["door-1", "door-2"] and price == ack["state"]["current_price"]
    cluster.audit()
    assert cluster.money_total() == money_before
