"""Zendesk intake and write-back: signed webhooks (``web.py``), the incremental-export poller
(``poller.py``), the job handlers (``handlers.py``, ``batch.py``), the tenant's desk and the
intake's ledger records (``service.py``), webhook and trigger setup (``setup.py``)."""
