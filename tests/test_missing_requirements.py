"""Issue 26 #9: a test whose own requirement is absent (Chromium, a redis-server of its own)
fails by default; it skips only when NEIGHBORBID_ALLOW_SKIPS=1 is set by hand."""

from __future__ import annotations

import pytest

from tests.conftest import missing


def test_a_missing_requirement_fails_by_default(monkeypatch):
    monkeypatch.delenv("NEIGHBORBID_ALLOW_SKIPS", raising=False)
    monkeypatch.delenv("NEIGHBORBID_REQUIRE_SERVICES", raising=False)  # not what decides any more
    with pytest.raises(pytest.fail.Exception, match="Chromium not found"):
        missing("Chromium not found at /nowhere")


def test_it_skips_only_when_asked(monkeypatch):
    monkeypatch.setenv("NEIGHBORBID_ALLOW_SKIPS", "1")
    with pytest.raises(pytest.skip.Exception):
        missing("Chromium not found at /nowhere")
