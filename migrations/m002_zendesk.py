"""Schema steps for Zendesk intake (issue #3). Register with ``@MIGRATIONS(name="m002_...")``;
use ``execute_statements(db, sql)`` for multi-statement SQL (never ``executescript``)."""

from migrations import MIGRATIONS  # noqa: F401
