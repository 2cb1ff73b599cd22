"""Waiting for a child process to say it is ready (a line it prints), never for a fixed time."""

from __future__ import annotations

import os
import select
import subprocess
import time


def wait_for_line(proc: subprocess.Popen, needle: bytes, timeout: float = 30.0) -> bytes:
    """Read the child's stderr until a line containing ``needle`` arrives; returns what was read.
    Fails with the output so far when the child exits or the timeout passes first."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(
                f"no {needle!r} within {timeout} s; stderr so far: {seen[-2000:]!r}"
            )
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:  # EOF: the child exited without saying it
            raise AssertionError(f"exited ({proc.wait()}) before {needle!r}: {seen[-2000:]!r}")
        seen += chunk
    return seen
