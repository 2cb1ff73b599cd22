"""Schema step for Zendesk OAuth. Steps are listed in order in migrations/__init__.py."""

from migrations.sql import execute_statements


def m009_zendesk_former_api_users(db):
    execute_statements(
        db,
        """
        -- Users Deskguard wrote as before (JSON list of ids), e.g. the API-token agent before the
        -- tenant moved to OAuth: their marked comments stay Deskguard's own (loop safety).
        ALTER TABLE zendesk_accounts ADD COLUMN former_api_user_ids TEXT NOT NULL DEFAULT '[]';
        """,
    )
