"""The raw-SQL ceiling of the bid's statements: pgbench runs bench/pgbench_*.sql on fresh pb_*
tables (bench/pgbench_setup.sql) in the given database, then drops them. Used by ws_bench.py and
service_bids.py so each prints its own figure beside the ceiling of the same window."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def pgbench_ceiling(db: str, script: str, seconds: float, clients: int = 8) -> dict:
    if not shutil.which("pgbench"):
        return {"script": script, "tps": None, "error": "pgbench not installed"}
    subprocess.run(
        ["psql", db, "-qX", "-v", "ON_ERROR_STOP=1", "-f", str(BENCH / "pgbench_setup.sql")],
        check=True,
        capture_output=True,
    )
    try:
        run = subprocess.run(
            ["pgbench", "-n", "-f", str(BENCH / script), "-c", str(clients), "-j", "2"]
            + ["-T", str(max(1, round(seconds))), db],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        )
    finally:
        subprocess.run(
            ["psql", db, "-qXc", "DROP TABLE IF EXISTS pb_bid, pb_ledger, pb_wallet, pb_auction"], capture_output=True
        )
    tps = re.search(r"tps = ([0-9.]+)", run.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", run.stdout)
    return {
        "script": script,
        "clients": clients,
        "seconds": max(1, round(seconds)),
        "tps": round(float(tps.group(1)), 1) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        **({} if tps else {"error": (run.stderr or run.stdout)[-500:]}),
    }
