"""Schema steps for binding signed webhooks to their meaning.

Steps are listed in order in migrations/__init__.py; use ``execute_statements(db, sql)`` for
multi-statement SQL (never ``executescript``)."""

from migrations.sql import execute_statements


def m007_shopify_webhook_binding(db):
    # A Shopify signature covers the body only, so the same signed body can arrive again under a
    # new X-Shopify-Webhook-Id. The body's SHA-256 dedupes that; the shop id read from a signed
    # body is kept so a later body naming another shop id for the same domain is refused.
    execute_statements(
        db,
        """
        ALTER TABLE shopify_webhook_deliveries ADD COLUMN body_sha256 TEXT NOT NULL DEFAULT '';
        ALTER TABLE shopify_webhook_deliveries ADD COLUMN shop_id INTEGER;
        CREATE INDEX shopify_webhook_body ON shopify_webhook_deliveries (tenant_id, body_sha256);
        """,
    )
