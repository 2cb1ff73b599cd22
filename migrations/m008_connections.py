"""Schema steps for connecting stores from the admin console (marketplace Shopify installs).

Steps are listed in order in migrations/__init__.py; use ``execute_statements(db, sql)`` for
multi-statement SQL (never ``executescript``)."""

from migrations.sql import execute_statements


def m008_shopify_installs(db):
    execute_statements(
        db,
        """
        -- One row per shop that installed the app by OAuth. Until an admin links the shop to a
        -- tenant, its offline token waits here encrypted (MultiFernet, like secrets.ciphertext);
        -- linking moves it into the tenant's secrets and clears it here.
        CREATE TABLE shopify_installs (
            shop TEXT PRIMARY KEY,            -- <handle>.myshopify.com
            tenant_id TEXT REFERENCES tenants(id) ON DELETE SET NULL,  -- NULL until linked
            token_ciphertext TEXT,            -- NULL once linked (the token is in secrets)
            scope TEXT NOT NULL DEFAULT '',
            installed_at TEXT NOT NULL,
            linked_at TEXT,
            linked_by TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX shopify_installs_tenant ON shopify_installs (tenant_id);
        """,
    )
