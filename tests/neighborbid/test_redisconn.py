"""REDIS_URL behind Sentinel (issue 23): the parse, and real clients that follow a failover.

The failover tests start a Redis primary, a replica and one sentinel of their own (never the
shared Redis), then ask the sentinel for a failover (`SENTINEL FAILOVER`): the old primary becomes
a replica, so a client that kept talking to it would get READONLY. Each client made by
neighborbid.redisconn writes again after the failover and must reach the new primary."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from neighborbid.redisconn import async_client, channel_layer_host, redis_target, sync_client
from tests.conftest import missing
from tests.realtime.servers import free_ports, wait_for_port


def test_a_plain_url_is_used_as_it_is():
    target = redis_target("redis://127.0.0.1:6379/3")
    assert not target.uses_sentinel
    assert channel_layer_host("redis://127.0.0.1:6379/3", socket_keepalive=True) == {
        "address": "redis://127.0.0.1:6379/3",
        "socket_keepalive": True,
    }


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_db():
    target = redis_target("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26380,sentinel-3:26381/nbredis/2")
    assert target.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("sentinel-3", 26381))
    assert (target.service, target.db, target.password) == ("nbredis", 2, "s3cret")
    host = channel_layer_host(target.url, socket_connect_timeout=1.0)
    assert host["master_name"] == "nbredis" and host["db"] == 2 and host["password"] == "s3cret"
    assert host["sentinels"] == [["10.0.0.1", 26379], ["10.0.0.2", 26380], ["sentinel-3", 26381]]
    assert host["sentinel_kwargs"] == {"socket_connect_timeout": 1.0}
    assert redis_target("redis+sentinel://127.0.0.1:26379/nbredis").db == 0


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:26379",  # no service
        "redis+sentinel://127.0.0.1:26379/nbredis/zero",
        "redis+sentinel://127.0.0.1/nbredis",  # no port
        "redis+sentinel://127.0.0.1:26379/a/1/2",
    ],
)
def test_a_malformed_sentinel_url_is_refused_at_startup(url):
    with pytest.raises(ImproperlyConfigured):
        redis_target(url)


class _Process:
    def __init__(self, args: list[str], port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, timeout=10, proc=self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def sentinel_setup(tmp_path: Path) -> Iterator[tuple[str, int, int, int]]:
    if shutil.which("redis-server") is None:
        missing("redis-server is needed for a Sentinel of our own")
    primary_port, replica_port, sentinel_port = free_ports(3, start=16500, stop=16600)
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    processes = [_Process(["redis-server", "--port", str(primary_port), *common], primary_port)]
    processes.append(
        _Process(
            ["redis-server", "--port", str(replica_port), *common, "--replicaof", "127.0.0.1", str(primary_port)],
            replica_port,
        )
    )
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor nbtest 127.0.0.1 {primary_port} 1\n"
        "sentinel down-after-milliseconds nbtest 1000\nsentinel failover-timeout nbtest 3000\n"
    )
    processes.append(_Process(["redis-server", str(conf), "--sentinel"], sentinel_port))
    try:
        _wait_until(lambda: _replication_up(replica_port), "the replica to sync")
        _wait_until(lambda: _sentinel_sees_replica(sentinel_port), "the sentinel to find the replica")
        yield f"redis+sentinel://127.0.0.1:{sentinel_port}/nbtest/0", primary_port, replica_port, sentinel_port
    finally:
        for process in reversed(processes):
            process.stop()


def _wait_until(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # the server is still starting or switching roles
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _replication_up(replica_port: int) -> bool:
    import redis

    return redis.Redis(port=replica_port).info("replication").get("master_link_status") == "up"


def _sentinel_sees_replica(sentinel_port: int) -> bool:
    import redis

    return bool(redis.Redis(port=sentinel_port).sentinel_slaves("nbtest"))


def _primary_port(sentinel_port: int) -> int:
    import redis

    return int(redis.Redis(port=sentinel_port).sentinel_get_master_addr_by_name("nbtest")[1])


def _failover(sentinel_port: int, replica_port: int) -> None:
    import redis

    redis.Redis(port=sentinel_port).execute_command("SENTINEL FAILOVER nbtest")
    _wait_until(lambda: _primary_port(sentinel_port) == replica_port, "the sentinel to promote the replica")
    _wait_until(lambda: redis.Redis(port=replica_port).info("replication")["role"] == "master", "the promotion")


def _role(port: int) -> str:
    import redis

    return redis.Redis(port=port).info("replication")["role"]


@pytest.mark.multiprocess
def test_the_sync_client_follows_a_failover(sentinel_setup):
    url, primary_port, replica_port, sentinel_port = sentinel_setup
    # given a client that found the primary through the sentinel
    client = sync_client(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    client.set("before", "1")
    assert client.connection_pool.get_master_address()[1] == primary_port
    # when the sentinel promotes the replica (the old primary turns into its replica)
    _failover(sentinel_port, replica_port)
    _wait_until(lambda: _role(primary_port) == "slave", "the old primary to become a replica")
    # then the same client writes again, on the new primary (after at most one failed call)
    _wait_until(lambda: client.set("after", "2"), "a write through the failed-over client")
    import redis

    assert redis.Redis(port=replica_port).get("after") == b"2"
    assert redis.Redis(port=replica_port).get("before") == b"1"  # it was replicated


@pytest.mark.multiprocess
async def test_the_async_client_and_the_channel_layer_follow_a_failover(sentinel_setup):
    url, primary_port, replica_port, sentinel_port = sentinel_setup
    from realtime.redis_layer import PubSubChannelLayer

    client = async_client(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    layer = PubSubChannelLayer(hosts=[channel_layer_host(url, socket_connect_timeout=1.0)], prefix="nbtestlayer")
    try:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "hello", "n": 1})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
        await client.set("before", "1")

        await asyncio.to_thread(_failover, sentinel_port, replica_port)
        await asyncio.to_thread(_wait_until, lambda: _role(primary_port) == "slave", "the old primary to turn")

        deadline = time.monotonic() + 20
        while True:  # the first call on a connection to the old primary may fail; then it must not
            try:
                await client.set("after", "2")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        import redis

        assert redis.Redis(port=replica_port).get("after") == b"2"
        # the layer's subscription moves to the new primary too: a group message arrives again
        # (its own time budget: under a loaded CI box the reconnects take longer). One receive,
        # never cancelled: channels-redis unsubscribes a channel whose receive is cancelled.
        receiving = asyncio.ensure_future(layer.receive(channel))
        received, failures, started = None, [], time.monotonic()
        while received is None and time.monotonic() < started + 30:
            try:
                await layer.group_send("room", {"type": "hello", "n": 2})
            except Exception as exc:  # the layer still reconnecting
                failures.append(f"{time.monotonic() - started:.1f}s {exc!r}")
            done, _ = await asyncio.wait({receiving}, timeout=1)
            if done:
                received = receiving.result()
        if received is None:  # who is connected where (a publisher and the subscription apart?)
            receiving.cancel()
            for port in (primary_port, replica_port):
                role = redis.Redis(port=port).info("replication")["role"]
                clients = [(c["addr"], c["cmd"], c["sub"]) for c in redis.Redis(port=port).client_list()]
                failures.append(f"{port} {role}: {clients}")
        assert received is not None and received["n"] == 2, failures[-12:]
    finally:
        await client.aclose()
        await layer.flush()
