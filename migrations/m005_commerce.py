"""Schema steps for Shopify and Stripe (issue #6). Register with ``@MIGRATIONS(name="m005_...")``;
use ``execute_statements(db, sql)`` for multi-statement SQL (never ``executescript``)."""

from migrations import MIGRATIONS  # noqa: F401
