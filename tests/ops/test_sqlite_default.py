"""The embedded default (`make run` with no DATABASE_URL) is SQLite, and several services take
a PostgreSQL-only fast path (one-statement bid and chat writes, plain-SQL row locks). This runs
tests/ops/sqlite_story.py on a fresh SQLite file: migrations, max bidding, a buy-now sale, the
trade's chat (ordered messages, a resend, a meeting, read marks, a block), 구매확정, both
reviews and audit_ledger, all on the portable path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.multiprocess


def test_a_whole_sale_runs_on_the_embedded_sqlite_default(tmp_path):
    # given: a fresh SQLite database, as `make run` makes one when DATABASE_URL is not set
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", DJANGO_SETTINGS_MODULE="neighborbid.settings")
    env["MEDIA_ROOT"] = str(tmp_path / "media")
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=BASE, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    # when: the story runs there
    story = subprocess.run(
        [sys.executable, "tests/ops/sqlite_story.py"], cwd=BASE, env=env, capture_output=True, text=True, timeout=120
    )
    # then: every step held, and the books balance
    assert story.returncode == 0, story.stdout[-2000:] + story.stderr[-4000:]
    assert story.stdout.strip().splitlines()[-1] == "story: ok", story.stdout
