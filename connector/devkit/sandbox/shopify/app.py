"""The Shopify sandbox's Flask app, the settings that point Deskguard at it, and
``python -m connector.devkit.sandbox.shopify`` (serve the demo shop)."""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask

from connector.devkit.sandbox import serve_in_thread
from connector.devkit.sandbox.shopify.routes_graphql import graphql_blueprint
from connector.devkit.sandbox.shopify.routes_oauth import oauth_blueprint
from connector.devkit.sandbox.shopify.state import ShopifyState
from connector.devkit.sandbox.shopify_schema import load_schema


def create_app(state: ShopifyState | None = None) -> Flask:
    """The emulator over ``state`` (the demo shop when not given). The shop lives in
    ``app.extensions["shopify_state"]``; replacing it there swaps the shop the app serves."""
    state = state or ShopifyState().seed_demo()
    app = Flask("shopify-sandbox")
    app.extensions["shopify_state"] = state
    app.register_blueprint(graphql_blueprint(load_schema()))
    app.register_blueprint(oauth_blueprint())
    return app


def sidecar_settings(state: ShopifyState, url: str) -> dict[str, Any]:
    """The Deskguard settings that point the real adapter at this emulator (for the demo and
    tests): the store's own Dev Dashboard app, on expiring client-credentials tokens."""
    return {
        "shopify_shop": state.shop_domain,
        "shopify_client_id": state.oauth.client_id,
        "shopify_api_secret": state.api_secret,
        "shopify_admin_url": url,
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m connector.devkit.sandbox.shopify --port 8765``: serve the demo shop until
    Ctrl-C, after printing the settings that point Deskguard at it."""
    from connector.settings import setting

    parser = argparse.ArgumentParser(description="Shopify Admin GraphQL sandbox with the demo shop")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    state = ShopifyState().seed_demo()
    server = serve_in_thread(create_app(state), port=args.port)
    for name, value in sidecar_settings(state, server.url).items():
        print(f"{setting(name).env}={value}")
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()
