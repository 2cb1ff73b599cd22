"""Shopify and Stripe: each tenant's clients (``service.py``), order status answers
(``wismo.py``), the privacy rule (``privacy.py``), payments, approvals of refunds and
cancellations (``approvals.py``), dispute briefs (``disputes.py``) and the webhooks."""
