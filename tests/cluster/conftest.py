"""The loopback cluster of `make cluster` (scripts/cluster.sh), started once for tests/cluster/
and broken on purpose there. Marked `cluster`: `make test` runs it, `make test-fast` does not.

The cluster runs on its own PostgreSQL pair and Redis (never the suite's test database), so the
tests speak to it as its users do — WebSockets and pages through nginx — and read the database
directly (psycopg) or through `manage.py` with the cluster's own environment (DIR/app.env)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
NGINX = "http://127.0.0.1:18080"
WEB_PORTS = (18001, 18002, 18003)


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.parent == Path(__file__).parent:
            item.add_marker(pytest.mark.cluster)


@dataclass
class Cluster:
    dir: Path

    @property
    def env(self) -> dict[str, str]:
        values = {}
        for line in (self.dir / "app.env").read_text().splitlines():
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
        return values

    def process_env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        env.pop("BUS_PREFIX", None)
        return env | self.env

    def script(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [str(ROOT / "scripts" / "cluster.sh"), *args, str(self.dir)],
            cwd=ROOT,
            env=self.process_env() if (self.dir / "app.env").exists() else None,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(f"cluster.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr

    def manage(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        """manage.py against the cluster (its primary, its Redis), as an operator would run it."""
        done = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.process_env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def python(self, code: str) -> dict:
        """Run code in `manage.py shell` on the cluster; its last stdout line is JSON."""
        out = self.manage("shell", "--no-imports", "-c", code)
        return json.loads(out.strip().splitlines()[-1])

    def primary(self) -> psycopg.Connection:
        return psycopg.connect(self.env["DATABASE_URL"].replace("postgres://", "postgresql://"), autocommit=True)

    def pid(self, name: str) -> int:
        return int((self.dir / "run" / f"{name}.pid").read_text())

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        os.kill(self.pid(name), sig)

    def audit(self) -> str:
        out = self.manage("audit_ledger")
        assert "OK" in out, out
        return out

    def money_total(self) -> int:
        with self.primary() as conn:
            row = conn.execute("SELECT sum(balance + locked_balance) FROM wallets_wallet").fetchone()
        return int(row[0])

    def log(self, name: str, tail: int = 60) -> str:
        path = self.dir / "log" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:]) if path.exists() else ""


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    # A run killed half-way (CI cancelled, a crash) leaves its cluster holding the ports: stop it.
    for leftover in Path(tempfile.gettempdir()).glob("nbcluster-*"):
        subprocess.run([str(ROOT / "scripts" / "cluster.sh"), "stop", str(leftover)], cwd=ROOT, check=False)
        shutil.rmtree(leftover, ignore_errors=True)
    # Not under pytest's tmp_path: that is private to root (0700) and PostgreSQL runs as postgres.
    where = Cluster(Path(tempfile.mkdtemp(prefix="nbcluster-")))
    where.dir.chmod(0o755)
    started = time.monotonic()
    try:
        where.script("start")
    except Exception:
        subprocess.run([str(ROOT / "scripts" / "cluster.sh"), "stop", str(where.dir)], cwd=ROOT, check=False)
        raise
    where.started_in = time.monotonic() - started  # type: ignore[attr-defined]
    try:
        yield where
    finally:
        where.script("stop")
        shutil.rmtree(where.dir, ignore_errors=True)


SEED = """
import json
from django.test import Client
from tests import factories as f
from django.conf import settings

seller = f.make_user()
auction = f.make_auction(seller=seller, is_national=True, start_price=10_000)
users = [f.make_user(balance=50_000_000) for _ in range({bidders})]
cookies = []
for user in users:
    client = Client()
    client.force_login(user)
    cookies.append(settings.SESSION_COOKIE_NAME + "=" + client.cookies[settings.SESSION_COOKIE_NAME].value)
print(json.dumps({{"auction": auction.pk, "users": [u.pk for u in users], "cookies": cookies}}))
"""


@pytest.fixture
def live_auction(cluster) -> dict:
    """A fresh national auction on the cluster and two funded bidders with session cookies."""
    return cluster.python(SEED.format(bidders=2))
