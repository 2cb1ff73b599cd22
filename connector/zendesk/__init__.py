"""Zendesk intake and write-back (issue #3).

Wired in through the hooks described in connector/areas.py:

- service ``zendesk`` (``adapters.zendesk.ZendeskDesk`` per tenant, built by ``service.build_desk``)
- job handler ``zendesk.ticket`` (``handler.py``) → ``connector.pipeline.process_ticket``
- job handler ``zendesk.batch`` (``batch.py``): backlogs from the poller, 100 tickets per read
- web: ``POST /webhooks/zendesk/<tenant>`` (``webhooks.py``)
- scheduler: one incremental-export poll job per tenant, plus pruning (``poller.py``)
- CLI: ``deskguard zendesk setup|poll|status`` and ``deskguard sandbox zendesk`` (``cli.py``)
"""

from connector.runtime import register_service
from connector.zendesk import batch as _batch  # noqa: F401  (registers the zendesk.batch job handler)
from connector.zendesk import handler as _handler  # noqa: F401  (registers the job handler)
from connector.zendesk.poller import register_schedules
from connector.zendesk.service import build_desk, configure_env_tenant

register_service("zendesk", build_desk)


def register_web(app) -> None:
    from connector.zendesk.webhooks import register

    register(app)


def register_cli(cli) -> None:
    from connector.zendesk.cli import register

    register(cli)


__all__ = ["configure_env_tenant", "register_cli", "register_schedules", "register_web"]
