"""`deskguard bench ...`: benchmark commands. Figures go in docs/BENCHMARKS.md with machine,
date and command; they are never asserted by timed unit tests."""

from __future__ import annotations

import click


@click.group()
def bench() -> None:
    """Benchmarks (results belong in docs/BENCHMARKS.md).

    Example: deskguard bench queue --seconds 5
    """
