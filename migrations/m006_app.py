"""Schema steps for Zendesk app and dashboard (issue #7). Register with ``@MIGRATIONS(name="m006_...")``;
use ``execute_statements(db, sql)`` for multi-statement SQL (never ``executescript``)."""

from migrations import MIGRATIONS  # noqa: F401
