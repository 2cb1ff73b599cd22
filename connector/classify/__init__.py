"""Ticket understanding: redaction (``redact.py``), the local model (``local.py``, trained by
``train.py``), Claude (``claude.py``), and which engine reads a tenant's tickets
(``service.py``)."""
