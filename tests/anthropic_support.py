"""Shared fixtures for tests that drive the real anthropic SDK against the Anthropic sandbox."""

from __future__ import annotations

import pytest

from connector.devkit.sandbox.anthropic import start_anthropic_sandbox


@pytest.fixture(scope="module")
def _server():
    """One sandbox server per test module."""
    sb = start_anthropic_sandbox()
    yield sb
    sb.stop()


@pytest.fixture
def sandbox(_server):
    """The module's emulator with fresh state (no cache, failures, scripts or recorded requests)."""
    _server.state.reset()
    return _server
