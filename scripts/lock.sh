#!/usr/bin/env bash
# Resolve the human-edited inputs (requirements.txt, requirements-dev.txt) into hashed lock files
# (requirements.lock, requirements-dev.lock) that bootstrap.sh and the Dockerfile install with
# --require-hashes. Resolved against PyPI only (local pip config ignored), so the hashes are the
# ones any fresh machine downloads. The dev lock is constrained to the runtime lock's versions.
# Usage: make lock   (after editing a requirements*.txt; needs the dev venv: scripts/bootstrap.sh dev)
set -euo pipefail
cd "$(dirname "$0")/.."
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT
export PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock"
compile=(.venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --index-url https://pypi.org/simple)
"${compile[@]}" --output-file requirements.lock requirements.txt
"${compile[@]}" --constraint requirements.lock --output-file requirements-dev.lock requirements-dev.txt
