"""The Shopify sandbox's OAuth endpoints, as a store answers them.

- ``GET /admin/oauth/authorize?client_id&scope&redirect_uri&state``: the grant page a merchant
  sees (an HTML page with an Install button); unknown ``client_id`` → 400.
- ``POST /admin/oauth/authorize``: the Install button; 302 to ``redirect_uri`` with the signed
  ``code, host, shop, state, timestamp, hmac`` query.
- ``POST /admin/oauth/access_token`` (JSON or form): ``grant_type=client_credentials`` →
  ``{access_token, scope, expires_in}``; ``code`` → ``{access_token, scope}``; wrong client →
  400 ``invalid_client``; unknown or used code → 400 ``invalid_request``.
"""

from __future__ import annotations

import html
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, request

from connector.devkit.sandbox.shopify.state import ShopifyState

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Install app · {shop}</title></head>
<body>
<main>
<h1>Install Deskguard on {shop}</h1>
<p>The app asks for: <span id="scopes">{scope}</span></p>
<form method="post" action="/admin/oauth/authorize">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="scope" value="{scope}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="state" value="{state}">
<button id="install" type="submit">Install</button>
</form>
</main>
</body></html>
"""


def _state() -> ShopifyState:
    state: ShopifyState = current_app.extensions["shopify_state"]
    return state


def _oauth_error(error: str, description: str, status: int = 400) -> tuple[Response, int]:
    return jsonify({"error": error, "error_description": description}), status


def oauth_blueprint() -> Blueprint:
    bp = Blueprint("oauth", __name__)

    @bp.get("/admin/oauth/authorize")
    def authorize_page():
        app = _state().oauth
        args = {k: request.args.get(k, "") for k in ("client_id", "scope", "redirect_uri", "state")}
        if args["client_id"] != app.client_id:
            return _oauth_error("invalid_request", "Oauth error invalid_request: unknown client_id")
        if not args["redirect_uri"].startswith(("http://", "https://")):
            return _oauth_error("invalid_request", "The redirect_uri is missing or not allowed")
        page = PAGE.format(
            shop=html.escape(app.shop_domain),
            **{k: html.escape(v, quote=True) for k, v in args.items()},
        )
        return Response(page, mimetype="text/html")

    @bp.post("/admin/oauth/authorize")
    def authorize_grant():
        app = _state().oauth
        form = request.form
        if form.get("client_id") != app.client_id:
            return _oauth_error("invalid_request", "Oauth error invalid_request: unknown client_id")
        redirect_uri = form.get("redirect_uri", "")
        query = app.callback_query(form.get("state", ""), form.get("scope") or app.scopes)
        separator = "&" if "?" in redirect_uri else "?"
        return redirect(f"{redirect_uri}{separator}{query}", code=302)

    @bp.post("/admin/oauth/access_token")
    def access_token():
        app = _state().oauth
        body: dict[str, Any] = request.get_json(silent=True) or request.form.to_dict()
        if not app.credentials_match(
            str(body.get("client_id") or ""), str(body.get("client_secret") or "")
        ):
            return _oauth_error("invalid_client", "Client authentication failed")
        if body.get("grant_type") == "client_credentials":
            grant = app.client_credentials()
            if grant is None:
                return _oauth_error("invalid_client", "The app is not installed on this store")
            assert grant.expires_at is not None
            expires_in = max(0, round(grant.expires_at - app.clock()))
            return jsonify(
                {"access_token": grant.token, "scope": grant.scope, "expires_in": expires_in}
            )
        grant = app.exchange_code(str(body.get("code") or ""))
        if grant is None:
            return _oauth_error(
                "invalid_request", "The authorization code was not found or was already used"
            )
        return jsonify({"access_token": grant.token, "scope": grant.scope})

    return bp
