"""``python -m connector.devkit.sandbox.shopify --port 8765``: serve the demo shop."""

from connector.devkit.sandbox.shopify.app import main

main()
