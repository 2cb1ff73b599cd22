"""The connections console: tenants and their Zendesk, Shopify and Stripe connections
(/admin/connections), and the Shopify app's install URLs (/shopify/install, /shopify/callback)."""
