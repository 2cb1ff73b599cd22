"""Schema steps for decision engine (issue #5). Register with ``@MIGRATIONS(name="m004_...")``;
use ``execute_statements(db, sql)`` for multi-statement SQL (never ``executescript``)."""

from migrations import MIGRATIONS  # noqa: F401
