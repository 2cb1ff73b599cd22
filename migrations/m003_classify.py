"""Schema steps for ticket understanding (issue #4). Register with ``@MIGRATIONS(name="m003_...")``;
use ``execute_statements(db, sql)`` for multi-statement SQL (never ``executescript``)."""

from migrations import MIGRATIONS  # noqa: F401
