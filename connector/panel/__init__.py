"""The Zendesk app: the agent side panel (``web.py``), the admin dashboard (``admin_web.py``),
agent identity and roles, and the app package (``app_package.py``)."""
