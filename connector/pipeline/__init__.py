"""The decision pipeline: ``engine.process_ticket`` runs the ``STAGES`` (``stages.py``) for one
ticket event; policy and guardrails (``policy.py``, ``rules.py``, ``caps.py``, ``golive.py``),
replies and the decision brief, and the decisions ledger (``decisions.py``)."""
