"""The Zendesk app: the agent side panel (``web.py``), agent identity and roles
(``identity.py``), app tokens and admin sessions (``auth.py``), and the app package
(``app_package.py``). The admin dashboard is connector/dashboard/."""
