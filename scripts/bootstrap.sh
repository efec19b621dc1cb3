#!/usr/bin/env bash
# Create .venv and install the locked requirements (hash-checked; only when the lock changed).
# Usage: scripts/bootstrap.sh [dev]     (run: requirements.lock; dev: requirements-dev.lock)
# Needs only python3 (>= 3.11, with its venv module) and access to PyPI. The locks are made from
# requirements.txt / requirements-dev.txt by `make lock` (scripts/lock.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
lock=requirements.lock; [ "$mode" = dev ] && lock=requirements-dev.lock
python=${PYTHON:-python3}

die() { echo "bootstrap: $*" >&2; exit 1; }
command -v "$python" >/dev/null 2>&1 || die "$python not found: install Python 3.11 or newer (or set PYTHON=...)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11 or newer is needed ($python is $("$python" -V 2>&1))"

# A .venv that cannot run (half-created, moved, its Python removed) is made again.
if [ -e .venv ] && ! .venv/bin/python -c '' >/dev/null 2>&1; then
  echo "bootstrap: .venv is broken; creating it again" >&2
  rm -rf .venv
fi
if [ ! -e .venv ]; then
  if ! "$python" -m venv .venv >/dev/null 2>&1; then
    rm -rf .venv
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      echo "bootstrap: installing python3-venv (Debian's Python ships venv separately)" >&2
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null
      "$python" -m venv .venv
    else
      die "'$python -m venv' failed: install the venv module (Debian/Ubuntu: apt-get install python3-venv)"
    fi
  fi
fi

# Every pin in the human-edited inputs must be what the lock says (else: edit, then `make lock`).
.venv/bin/python - "$mode" <<'PY'
import re, sys
inputs = ["requirements.txt"] + (["requirements-dev.txt"] if sys.argv[1] == "dev" else [])
lock = "requirements-dev.lock" if sys.argv[1] == "dev" else "requirements.lock"
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
locked = dict(
    (norm(m[1]), m[2]) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", open(lock).read(), re.M)
)
stale = []
for path in inputs:
    for line in open(path):
        m = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if m and locked.get(norm(m[1])) != m[2]:
            stale.append(f"{path}: {m[1]}=={m[2]} (lock: {locked.get(norm(m[1]), 'missing')})")
if stale:
    sys.exit("bootstrap: " + lock + " is out of date, run `make lock`:\n  " + "\n  ".join(stale))
PY

stamp=".venv/.installed-$(.venv/bin/python -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16])' "$lock")-$mode"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing $lock into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$lock"
  rm -f .venv/.installed-*-"$mode"
  touch "$stamp"
fi
if [ "$mode" = dev ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  # Browser tests drive Debian's Chromium (no browser downloads work here); the font renders Korean.
  echo "installing chromium and fonts-noto-cjk for the browser tests" >&2
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk >/dev/null
fi
