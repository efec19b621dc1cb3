"""Every bench under bench/ runs for a few seconds with tiny parameters against the test
database and real servers, so none of them can rot unnoticed. No speed is asserted: these
only check that each bench completes, prints its summary and did real work: bids accepted,
no refusal other than a race lost, frames delivered (numbers live in docs/benchmarks.md).
`-m "not bench"` skips them."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from tests.realtime.servers import BASE_DIR, free_ports, port_is_free, subprocess_database_url

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]

BENCH = BASE_DIR / "bench"


def run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(cmd, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def bench_env(tmp_path):
    url = subprocess_database_url()
    pg, db = url.rsplit("/", 1)
    env = {
        **os.environ,
        "BENCH_PG": pg,
        "BENCH_DB": db,
        "BENCH_REDIS": settings.REDIS_URL,
        "BENCH_PREFIX": f"smoke{uuid.uuid4().hex[:8]}",
        "BENCH_PORT0": str(free_ports(1, start=8600, stop=8700)[0]),
        "BENCH_DATA": str(tmp_path / "bench-data.json"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def ws_bench(env, *args: str) -> str:
    return run([sys.executable, str(BENCH / "ws_bench.py"), *args], env)


def result_of(output: str) -> dict:
    """The JSON result ws_bench prints before its summary line."""
    body = output[output.index("{") : output.rindex("}") + 1]
    return json.loads(body)


@pytest.mark.parametrize("kind", ["hot", "spread", "fanout"])
def test_ws_bench_runs_and_prints_its_summary_with_the_pgbench_ceiling(bench_env, kind):
    # given the bench's users (setup: sessions, money through the services)
    setup = ws_bench(bench_env, "setup", "--bidders", "3")
    assert "setup: 3 bidders" in setup
    # when a tiny run of the scenario goes against one real Daphne
    tiny = ["--processes", "1", "--bidders", "2", "--watchers", "2", "--watcher-procs", "1", "--duration", "2"]
    output = ws_bench(bench_env, kind, *tiny, "--auctions", "2", "--rate", "20", "--pgbench-seconds", "1")
    # then it completed, everyone ended on the final state, and the ceiling and ratio are printed
    result = result_of(output)
    assert result["scenario"] == kind
    # bids were accepted (a run where every bid is refused also leaves watchers "on the final
    # state": the initial one), the only refusals are races lost, and states reached watchers
    assert result["accepted"] > 0, result
    assert set(result["errors"]) <= {"bid_too_low"}, result["errors"]
    assert result["watcher_frames"] > 0, result
    assert result["watchers_on_final_state"] == "2/2"
    # the raw watchers (issue 25 #3) counted their bytes and CPU and saw no state twice
    assert result["duplicate_frames"] == 0 and result["watcher_bytes"] > 0, result
    assert len(result["generator_cpu_s_per_watcher_process"]) == 1, result
    # and the whole machine's cores over the run, split into the servers, the generator and the rest
    box = result["cpu_share_of_box"]
    assert box["cores"] == os.cpu_count() and 0 < box["servers"] <= box["busy"] <= 1, box
    # (a 2-second run's generator can round to 0 of the box: its CPU is counted in clock ticks)
    assert 0 <= box["generator"] <= box["busy"] and box["rest"] >= 0, box
    assert result["pgbench"]["tps"] is not None, result["pgbench"]
    assert "ratio_ws_accepted_to_pgbench" in result
    assert re.search(rf"^summary: {kind} fanout=hub accepted/s=.* pgbench\(.*\)=.* tps ratio=", output, re.M), output


@pytest.mark.parametrize(("fanout", "load"), [("hub", "c"), ("channels", "python")])
def test_ws_bench_deliver_measures_cpu_per_frame(bench_env, fanout, load):
    # the watchers read by bench/watcher.c, and by the Python RawWatcher it stands in for
    ws_bench(bench_env, "setup", "--bidders", "1")
    output = ws_bench(
        bench_env,
        "deliver",
        *["--processes", "1", "--bidders", "0", "--watchers", "3", "--watcher-procs", "1", "--duration", "2"],
        *["--rate", "20", "--pgbench-seconds", "0", "--fanout", fanout],
        *["--watcher-load", load],
    )
    result = result_of(output)
    assert result["fanout"] == fanout and result["watcher_load"] == load
    assert result["watchers_on_final_state"] == "3/3"
    assert result["watcher_frames"] > 0 and result["duplicate_frames"] == 0
    assert re.search(rf"^summary: deliver fanout={fanout} .*cpu/frame=", output, re.M), output


def test_ws_bench_hot_through_nginx(bench_env):
    # two processes and the nginx of `make cluster` in front (three spare ports in a row)
    port0 = next(p for p in range(8700, 8800) if all(port_is_free(q) for q in (p, p + 1, p + 2)))
    env = {**bench_env, "BENCH_PORT0": str(port0)}
    ws_bench(env, "setup", "--bidders", "3")
    tiny = ["--processes", "2", "--bidders", "2", "--watchers", "4", "--watcher-procs", "1", "--duration", "2"]
    output = ws_bench(env, "hot", *tiny, "--pgbench-seconds", "0", "--nginx")
    result = result_of(output)
    assert result["via_nginx"] is True and result["nginx_cpu_s"] is not None, result
    assert result["accepted"] > 0 and result["watchers_on_final_state"] == "4/4", result
    assert re.search(r"^summary: hot fanout=hub accepted/s=.* via nginx \(cpu ", output, re.M), output


def test_ws_bench_hot_bidders_learn_an_outbid_from_the_personal_notification(bench_env):
    # given the bench's users and a tiny hot run on one process
    ws_bench(bench_env, "setup", "--bidders", "3")
    tiny = ["--processes", "1", "--bidders", "2", "--watchers", "2", "--watcher-procs", "1", "--duration", "2"]
    # when its leaders also learn from the personal `outbid` notification, not only the state feed
    output = ws_bench(bench_env, "hot", *tiny, "--pgbench-seconds", "0", "--learn-outbid")
    # then outbid leaders acted on notices (two bidders overtake each other), and the run is whole
    result = result_of(output)
    assert result["learn_outbid"] is True and result["outbid_notices_acted_on"] > 0, result
    assert result["accepted"] > 0 and set(result["errors"]) <= {"bid_too_low"}, result
    assert result["watchers_on_final_state"] == "2/2" and result["duplicate_frames"] == 0, result
    assert re.search(r"^summary: hot .* learn_outbid \(notices acted on: [1-9]", output, re.M), output


def test_ws_bench_fanout_through_the_channel_layer(bench_env):
    ws_bench(bench_env, "setup", "--bidders", "2")
    tiny = ["--processes", "1", "--bidders", "2", "--watchers", "3", "--watcher-procs", "1", "--duration", "2"]
    output = ws_bench(bench_env, "fanout", *tiny, "--rate", "20", "--pgbench-seconds", "0", "--fanout", "channels")
    result = result_of(output)
    assert result["fanout"] == "channels" and result["accepted"] > 0, result
    assert result["watchers_on_final_state"] == "3/3" and result["duplicate_frames"] == 0, result


def test_ws_bench_fanout_offers_bids_open_loop(bench_env):
    # given the bench's users and a tiny fan-out on two processes
    ws_bench(bench_env, "setup", "--bidders", "2")
    tiny = ["--processes", "2", "--bidders", "2", "--watchers", "4", "--watcher-procs", "1", "--duration", "2"]
    # when the bids are offered at 10/s whatever the replies (issue 25: the offered rate)
    output = ws_bench(bench_env, "fanout", *tiny, "--rate", "10", "--pgbench-seconds", "0", "--offered")
    # then every offered bid got a reply, most were accepted, and the watchers hold the final state
    result = result_of(output)
    assert result["offered"] is True, result
    assert result["accepted"] >= 10 and set(result["errors"]) <= {"bid_too_low"}, result
    assert result["watchers_on_final_state"] == "4/4" and result["duplicate_frames"] == 0, result
    assert result["offered_bids"] >= 15 and result["last_reply_after_s"] < 10, result
    summary = r"^summary: fanout fanout=hub accepted/s=.* offered/s=10.0 \(\d+ bids, last reply \+"
    assert re.search(summary, output, re.M), output


def test_ws_bench_fanout_can_keep_bidders_and_watchers_on_separate_processes(bench_env):
    # given the bench's users and a tiny fan-out on two processes
    ws_bench(bench_env, "setup", "--bidders", "2")
    tiny = ["--processes", "2", "--bidders", "2", "--watchers", "4", "--watcher-procs", "1", "--duration", "2"]
    # when the bidders connect to the first process only and the watchers to the second
    args = ["--rate", "10", "--pgbench-seconds", "0", "--offered", "--bidder-processes", "1"]
    output = ws_bench(bench_env, "fanout", *tiny, *args)
    # then the two roles used different ports, and the watchers, who share no process with a bid,
    # still end on the final state (it crossed the bus)
    result = result_of(output)
    assert result["bidder_processes"] == 1 and len(result["bidder_ports"]) == len(result["watcher_ports"]) == 1, result
    assert result["bidder_ports"] != result["watcher_ports"], result
    assert result["accepted"] >= 10 and result["watchers_on_final_state"] == "4/4", result
    assert re.search(r"^summary: fanout .* bidders_on=\[\d+\] watchers_on=\[\d+\]", output, re.M), output


def test_ws_bench_gives_a_drained_bidder_its_money_back_before_a_run(bench_env):
    # given the bench's users, and a bidder with little left (as when earlier runs' auctions hold it)
    ws_bench(bench_env, "setup", "--bidders", "2")
    from accounts.models import User
    from wallets.models import Wallet
    from wallets.services import wallet_adjust

    bidder = User.objects.get(username="bench-bidder-0")
    staff = User.objects.get(username="bench-staff")
    wallet_adjust(user=bidder, amount=-950_000_000, staff_user=staff, reason="held by earlier runs")
    assert Wallet.objects.get(user=bidder).balance == 50_000_000
    # when a run starts
    tiny = ["--processes", "1", "--bidders", "2", "--watchers", "1", "--watcher-procs", "1", "--duration", "2"]
    output = ws_bench(bench_env, "fanout", *tiny, "--rate", "10", "--pgbench-seconds", "0", "--offered")
    # then it had 1e9 won again (held since by its bids, or still free), and no bid was refused
    # for money
    wallet = Wallet.objects.get(user=bidder)
    assert wallet.balance + wallet.locked_balance == 1_000_000_000, (wallet.balance, wallet.locked_balance)
    assert "insufficient_funds" not in result_of(output)["errors"], output


def ws_bench_refused(bench_env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH / "ws_bench.py"), *args],
        cwd=BASE_DIR,
        env=bench_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ws_bench_refuses_a_bidder_split_that_leaves_no_watcher_process(bench_env):
    # when every process would take bidders, the bench refuses before starting anything
    result = ws_bench_refused(bench_env, "fanout", "--processes", "1", "--bidder-processes", "1")
    # then it says why
    assert result.returncode == 2 and "--bidder-processes K needs 0 < K < --processes" in result.stderr, result


def service_env(bench_env) -> dict[str, str]:
    """The environment of a bench that calls the services in its own process (the test database)."""
    return {
        **bench_env,
        "DATABASE_URL": subprocess_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "BUS_PREFIX": bench_env["BENCH_PREFIX"],
        "SECRET_KEY": settings.SECRET_KEY,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }


def test_service_bids_runs_and_prints_its_summary(bench_env):
    env = service_env(bench_env)
    output = run(
        [sys.executable, str(BENCH / "service_bids.py"), "--no-reset", "--threads", "2", "--seconds", "1"]
        + ["--pgbench-seconds", "1"],
        env,
    )
    found = re.search(
        r"threads=2 auctions=1 .*accepted=(\d+) accepted_per_s=\d+ refused=(\{.*\}) statements_per_bid=\d+", output
    )
    assert found, output
    assert int(found.group(1)) > 0, output  # bids went through, not only refusals
    refused = ast.literal_eval(found.group(2))
    assert set(refused) <= {"bid_too_low"}, refused  # the only refusal is a race lost
    # the lock's hold per accepted bid (issue 19 #4) and the pgbench ceiling of the same window;
    # each hold runs from the grant to the reply, so with two threads the next grant may come
    # before a reply: the busy share is at most one per thread
    hold = re.search(
        r"lock_hold_ms_per_accepted=([0-9.]+) lock_busy_share=([0-9.]+) locks_granted=(\d+) "
        r"in_server_hold_ms_per_accepted_there=([0-9.]+)",
        output,
    )
    assert hold and 0 < float(hold.group(1)) < 1_000 and 0 < float(hold.group(2)) <= 2.0, output
    parts = re.search(
        r"cas_round_trip_ms_per_accepted=([0-9.]+) locked_transaction_hold_ms_per_accepted=([0-9.]+) "
        r"cas_writes=(\d+) locked_transactions=(\d+) decided_in_server=(\d+) "
        r"decide_round_trip_ms_per_accepted=([0-9.]+)",
        output,
    )
    assert parts, output
    # every bid accepted by a compare-and-set write or decided inside PostgreSQL held the row,
    # and the probe saw its grant; a grant-to-reply hold lies inside its call's round trip, and
    # the hold inside the function inside that
    calls = int(parts.group(3)) + int(parts.group(5))
    assert int(found.group(1)) - int(parts.group(4)) <= int(hold.group(3)) <= calls, output
    round_trips = float(parts.group(1)) + float(parts.group(6))
    assert float(hold.group(1)) - float(parts.group(2)) <= round_trips + 0.01, output
    assert int(parts.group(5)) > 0 and 0 < float(hold.group(4)) < float(hold.group(1)), output  # the server decided
    # and the function it probed is its own again (the probe's table is gone: a probed function
    # left behind would fail every bid after it, in whatever uses this database next)
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as pg:
        (source,) = pg.execute("SELECT prosrc FROM pg_proc WHERE proname = 'nb_bid_decide'").fetchone()
    assert "bench_lock_hold" not in source
    assert re.search(r"pgbench\(pgbench_bid5\.sql\)=[0-9.]+ tps ratio=[0-9.]+", output), output


def test_once_holds_times_buy_now_settlement_and_release_and_each_took_its_lock(bench_env):
    env = service_env(bench_env)
    output = run([sys.executable, str(BENCH / "once_holds.py"), "--no-reset", "--auctions", "4"], env)
    bid = re.search(r"kind=bid n=8 call_ms_p50=[0-9.]+ call_ms_p95=[0-9.]+ nb_bid_decide_ms_p50=[0-9.]+", output)
    # every bid went through the function (a median of no call would have failed the run)
    assert bid, output
    for kind in ("buy_now", "settle", "release"):
        found = re.search(
            rf"kind={kind} n=2 hold_ms_p50=[0-9.]+ hold_ms_p95=[0-9.]+ hold_ms_max=[0-9.]+ "
            r"statements_under_lock=(\d+) call_ms_p50=[0-9.]+",
            output,
        )
        # each of the two calls took its lock (else the bench stops) and ran statements under it
        assert found and int(found.group(1)) > 0, output


@pytest.mark.parametrize("script", ["pgbench_bid5.sql", "pgbench_bid1.sql", "pgbench_spread1.sql"])
def test_pgbench_scripts_run_on_their_tables(script):
    assert shutil.which("pgbench"), "pgbench is part of the PostgreSQL client tools the benches need"
    db = subprocess_database_url()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    try:
        run(["psql", db, "-qX", "-v", "ON_ERROR_STOP=1", "-f", str(BENCH / "pgbench_setup.sql")], env)
        output = run(["pgbench", "-n", "-f", str(BENCH / script), "-c", "2", "-j", "1", "-T", "1", db], env)
        assert re.search(r"tps = [0-9.]+", output), output
    finally:
        run(["psql", db, "-qXc", "DROP TABLE IF EXISTS pb_bid, pb_ledger, pb_wallet, pb_auction"], env)


def test_ws_bench_fanout_bids_over_the_bid_door_which_nginx_sends_to_a_process_of_its_own(bench_env):
    # given the bench's users, two processes behind the cluster's nginx, the first the bid door's
    ws_bench(bench_env, "setup", "--bidders", "2")
    tiny = ["--processes", "2", "--bidders", "2", "--watchers", "4", "--watcher-procs", "1", "--duration", "2"]
    # when the bidders bid over the bid door, through nginx
    args = ["--rate", "10", "--pgbench-seconds", "0", "--offered", "--nginx", "--bid-door", "--bidder-processes", "1"]
    output = ws_bench(bench_env, "fanout", *tiny, *args)
    # then nginx sent the two bid sockets to the first process and the four watchers to the
    # second (the path alone decides), and the watchers end on the final state
    result = result_of(output)
    assert result["bid_door"] is True and result["sockets_per_process"] == [2, 4], result
    assert result["accepted"] >= 10 and result["watchers_on_final_state"] == "4/4", result
    assert re.search(r"^summary: fanout .* bid_door sockets_per_process=\[2, 4\]", output, re.M), output


def test_ws_bench_fanout_puts_every_door_socket_of_the_auction_on_one_process_as_the_hash_does(bench_env):
    # given the bench's users and two processes, no nginx
    ws_bench(bench_env, "setup", "--bidders", "2")
    tiny = ["--processes", "2", "--bidders", "2", "--watchers", "4", "--watcher-procs", "1", "--duration", "2"]
    # when the bidders bid over the bid door with no process set aside for it
    output = ws_bench(bench_env, "fanout", *tiny, "--rate", "10", "--pgbench-seconds", "0", "--offered", "--bid-door")
    # then both door sockets reached one process (as nginx's `hash $auction` puts them), the
    # watchers both, so that process holds four sockets and the other two
    result = result_of(output)
    assert len(result["bidder_ports"]) == 1 and len(result["watcher_ports"]) == 2, result
    door = result["watcher_ports"].index(result["bidder_ports"][0])
    assert result["sockets_per_process"][door] == 4 and sum(result["sockets_per_process"]) == 6, result
    # and every accepted bid says how long after it was due it was sent, committed and answered
    lag = result["offered_lag_ms"]
    assert set(lag) == {"sent", "committed", "answered"} and all(len(v) == 3 for v in lag.values()), lag
    assert lag["sent"][1] <= lag["answered"][1], lag
    assert result["accepted"] >= 10 and result["watchers_on_final_state"] == "4/4", result
    summary = r"^summary: fanout .* lag_p99_ms\(sent/committed/answered\)=[0-9.]+/[0-9.]+/[0-9.]+ "
    assert re.search(summary, output, re.M), output


def test_ws_bench_hot_bidders_watch_on_their_socket_and_bid_over_the_door(bench_env):
    # given the bench's users and two processes, no nginx
    ws_bench(bench_env, "setup", "--bidders", "6")
    tiny = ["--processes", "2", "--bidders", "6", "--watchers", "2", "--watcher-procs", "1", "--duration", "2"]
    # when hot's bidders also open the bid door, as the live page does
    output = ws_bench(bench_env, "hot", *tiny, "--pgbench-seconds", "0", "--bid-door")
    # then their six door sockets reached one process (the auction's, as nginx's hash puts it)
    # beside eight watch sockets; no bid was refused `overloaded`, though up to six are in
    # flight there and the bench's pool bounds money calls at four per auction (the line has a
    # bound of its own); and the watchers end on the final state
    result = result_of(output)
    assert result["bid_door"] is True and len(result["door_ports"]) == 1, result
    assert sum(result["sockets_per_process"]) == 2 + 6 + 6, result
    assert result["accepted"] > 0 and set(result["errors"]) <= {"bid_too_low"}, result
    assert result["watchers_on_final_state"] == "2/2" and result["duplicate_frames"] == 0, result


def test_ws_bench_refuses_the_bid_door_where_nobody_bids(bench_env):
    result = ws_bench_refused(bench_env, "deliver", "--bid-door")
    assert result.returncode == 2 and "--bid-door is for fanout, hot and spread" in result.stderr, result
