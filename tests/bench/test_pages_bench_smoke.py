"""Each bench of "Pages at scale" runs end to end with tiny parameters, so it cannot rot (no
speed assertions: speed lives in docs/benchmarks.md). The benches run as subprocesses against
this run's test database, like a person would run them."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest
from django.conf import settings

from tests.realtime.servers import BASE_DIR, free_ports, subprocess_database_url

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]


def bench(script: str, *args: str, timeout: float = 180) -> str:
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--database-url", subprocess_database_url(), *args],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_pages_bench_sets_up_runs_and_explains():
    # given: a tiny bench data set in the test database
    out = bench(
        "pages_bench.py", "setup", "--auctions", "500", "--ended", "50", "--neighbourhoods", "150", "--users", "60"
    )
    # the real 동 of Korea (3,512; the migrated database also keeps the 11 retired hand-typed ones)
    assert re.search(r"setup: 35(12|23) neighbourhoods, 60 users, 550 auctions \(500 open\)", out), out
    # when: every page is timed
    out = bench("pages_bench.py", "run", "--requests", "3", "--warmup", "1", "--viewers", "2")
    # then: a line per page and the summary
    pages = ["home national", "home local 3km", "home local 10km", "search '식탁' anonymous", "page 50", "near 1km"]
    for page in [*pages, "near 10km Seoul"]:
        assert page in out
    assert "summary: worst p95" in out
    out = bench("pages_bench.py", "explain")
    assert "Index Only Scan using auction_open_ends" in out  # the 0005 indexes serve the list
    assert "summary: explain done" in out


def test_http_bids_bench_sets_up_and_bids_through_real_servers(tmp_path):
    data = str(tmp_path / "http-bids.json")
    common = ["--redis-url", settings.REDIS_URL, "--bus-prefix", "nbtest_http_bench", "--data", data]
    out = bench("http_bids.py", *common, "setup", "--auctions", "4", "--neighbourhoods", "2", "--bidders", "6")
    assert "setup: 4 local auctions in 2 동, 6 verified bidders" in out
    # a second run resumes above the prices the first one left (it once restarted at the
    # start price and had every bid refused as too low)
    for _ in range(2):
        port = free_ports(1, start=8340, stop=8360)[0]
        out = bench(
            "http_bids.py", *common, "run", "--processes", "1", "--concurrency", "3", "--duration", "2",
            "--port0", str(port),
        )  # fmt: skip
        assert "summary:" in out and "accepted bids/s" in out
        accepted = int(out.split("accepted bids/s (")[1].split(" of ")[0])
        assert accepted >= 1  # bids went through the whole door: session, CSRF, form, service
        statuses = ast.literal_eval(out.split("statuses: ")[1].splitlines()[0])
        assert statuses.get(302, 0) >= accepted  # every bid answered by a redirect to the auction
        assert not [code for code in statuses if code == "connection error" or code >= 500]
