"""Shared fixtures for tests that drive the real anthropic SDK against the Anthropic sandbox."""

from __future__ import annotations

import pytest

from connector.devkit.sandbox.anthropic import reading_input, start_anthropic_sandbox


@pytest.fixture(scope="module")
def _server():
    """One sandbox server per test module. The emulator's local model is loaded first: loading
    it inside the first request could outlast a test's client timeout on a busy machine (the
    SDK would then retry a request the emulator had already answered and cached)."""
    reading_input("warm-up", "where is my order")
    sb = start_anthropic_sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def sandbox(_server):
    """The module's emulator with fresh state (no cache, failures, scripts or recorded requests)."""
    _server.state.reset()
    return _server
