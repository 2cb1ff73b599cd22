"""The name of the person who approved or rejected a collaborative action, stored when they
decide, so the side panel shows it without asking Zendesk again."""

from migrations.sql import execute_statements


def m013_approval_decider_names(db):
    execute_statements(
        db,
        """
        -- decided_by stays the actor ("agent:42", or what the CLI/API caller gave); this is the
        -- person's name as Zendesk reported it at decision time (connector/panel/web.py).
        -- NULL when the deciding path knew no name (older rows, the CLI, the admin API).
        ALTER TABLE approvals ADD COLUMN decided_by_name TEXT;
        """,
    )
