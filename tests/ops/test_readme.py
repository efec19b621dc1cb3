"""README item 22 (issue 9): the port of `make run` and the isolation knobs of `make test` are
documented, and the scripts really read them."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_says_how_to_change_the_port_and_run_sh_uses_it_everywhere():
    readme = (ROOT / "README.md").read_text()
    run = (ROOT / "scripts/run.sh").read_text()
    assert "PORT=8001 make run" in readme
    assert '"${PORT:-8000}"' in run
    assert "http://127.0.0.1:8000" not in run.split("bootstrap.sh", 1)[1]  # the banner names the real port


def test_readme_says_how_to_isolate_make_test_and_test_sh_reads_it():
    readme = (ROOT / "README.md").read_text()
    script = (ROOT / "scripts/test.sh").read_text()
    for name in ("TEST_DATABASE_URL", "TEST_REDIS_URL", "BUS_PREFIX"):
        assert f"export {name}=" in readme, name
        assert "${" + name + ":-" in script, name


def test_test_sh_stops_on_a_lint_error():
    # `set -e` ignores a failure inside `a && b && c` (except the last): each check on its own line.
    lines = [line.strip() for line in (ROOT / "scripts/test.sh").read_text().splitlines()]
    assert ".venv/bin/ruff check ." in lines and ".venv/bin/ruff format --check ." in lines
