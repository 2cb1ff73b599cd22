"""The admin console: per-person sign-in (Zendesk OAuth, the app's nav_bar launch) and the pages
that run the product (policy, go-live, replay, kill switch, export)."""
