"""The admin dashboard at ``/admin`` (``web.py``): metrics read from the ledger (``metrics.py``),
server-rendered charts (``charts.py``), the kill switch, and the sign-in's failure limit
(``login_limit.py``)."""
