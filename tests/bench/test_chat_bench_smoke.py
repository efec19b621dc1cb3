"""bench/chat_bench.py runs with tiny parameters (a few rooms, two processes, two seconds):
it completes, every message reaches the other side exactly once and in order, and it prints
its summary. No speed is asserted (numbers live in docs/benchmarks.md)."""

from __future__ import annotations

import json
import re
import sys

import pytest

from tests.bench.test_bench_smoke import BENCH, bench_env, run  # noqa: F401  (fixture)

pytestmark = [pytest.mark.bench, pytest.mark.django_db(transaction=True)]


def test_chat_bench_delivers_every_message_once_in_order_across_two_processes(bench_env):  # noqa: F811
    # given a few rooms made through the real services
    setup = run([sys.executable, str(BENCH / "chat_bench.py"), "setup", "--rooms", "4"], bench_env)
    assert "setup: 4 rooms" in setup
    # when messages flow at a small rate across two real Daphne processes, twice on the same
    # rooms (a second run must not reuse the first one's request ids: those are resends)
    for _ in range(2):
        output = run(
            [sys.executable, str(BENCH / "chat_bench.py"), "run", "--rooms", "4", "--rate", "20", "--processes", "2"]
            + ["--duration", "2", "--drain", "5"],
            bench_env,
        )
        # then every one reached the other side exactly once, in order, each a new message
        result = json.loads(output[output.index("{") : output.rindex("}") + 1])
        assert result["sent"] > 0 and result["missing"] == 0, result
        assert result["duplicate_acks"] == 0 and result["acks"] == result["sent"], result
        # the receiving pages marked each message read and each mark was answered (the badge)
        assert result["reads_sent"] == result["sent"] == result["unread_answers"], result
        assert result["exactly_once_in_order"] is True, result
        assert re.search(r"^summary: chat rooms=4 processes=2 .* exactly_once_in_order=True$", output, re.M), output
