"""The OAuth endpoints of the Zendesk sandbox: the authorization page (HTML with Allow and Deny),
the token endpoint, and showing and revoking the current token. The rules live in
``state_oauth.py``; the API gate in ``app.py`` checks Bearer tokens against the same state."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from flask import Blueprint, Response, g, jsonify, redirect, request

from connector.devkit.sandbox.zendesk.api import api_route
from connector.devkit.sandbox.zendesk.records import ApiError
from connector.devkit.sandbox.zendesk.state import ZendeskState
from connector.devkit.sandbox.zendesk.state_oauth import OAuthError

AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Allow access</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><h1 id="consent">{client} wants to access your Zendesk account</h1>
<p>Signed in as <span id="user">{user}</span>.
Requested scopes: <code id="scopes">{scopes}</code></p>
<form method="post" action="/oauth/authorizations">{hidden}
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form></body></html>"""


def oauth_blueprint(state: ZendeskState) -> Blueprint:
    bp = Blueprint("oauth", __name__)
    oauth = state.oauth

    @bp.errorhandler(OAuthError)
    def _oauth_error(exc: OAuthError):
        return jsonify(exc.body), exc.status

    @bp.get("/oauth/authorizations/new")
    def authorize_page():
        params = {k: request.args.get(k, "") for k in AUTHORIZE_FIELDS}
        client = oauth.check_authorization(params)
        hidden = "".join(
            f'<input type="hidden" name="{k}" value="{escape(v)}">' for k, v in params.items()
        )
        html = PAGE.format(
            client=escape(client.identifier),
            user=escape(_browser_user(state)["email"]),
            scopes=escape(params["scope"] or "read"),
            hidden=hidden,
        )
        return Response(html, mimetype="text/html")

    @bp.post("/oauth/authorizations")
    def authorize_decision():
        params = {k: request.form.get(k, "") for k in AUTHORIZE_FIELDS}
        oauth.check_authorization(params)
        back: dict[str, str] = {}
        if request.form.get("decision") == "allow":
            # The user signed in to the emulator's pages grants access (default: the agent).
            back["code"] = oauth.issue_code(params, user_id=_browser_user(state)["id"])
        else:
            back["error"] = "access_denied"
            back["error_description"] = "The end-user or authorization server denied the request."
        if params["state"]:
            back["state"] = params["state"]
        return redirect(f"{params['redirect_uri']}?{urlencode(back)}", code=302)

    @bp.post("/oauth/tokens")
    def tokens():
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            data = request.form.to_dict()
        return jsonify(oauth.token_request(data))

    @api_route(bp, "/oauth/tokens/current", ("GET", "DELETE"))
    def current_token():
        return _token_response(state, g.get("oauth_token"))

    @api_route(bp, "/oauth/tokens/<int:token_id>", ("GET", "DELETE"))
    def token_by_id(token_id: int):
        return _token_response(state, oauth.by_id(token_id))

    return bp


def _browser_user(state: ZendeskState) -> dict:
    with state.lock:
        chosen = state.users.get(state.browser_user_id) if state.browser_user_id else None
    return chosen or state.agent


def _token_response(state: ZendeskState, token):
    if token is None:
        raise ApiError(404, "RecordNotFound", "Not found")
    if request.method == "DELETE":
        state.oauth.revoke(token)
        return Response(status=204)
    return jsonify(
        {
            "token": {
                "id": token.id,
                "token": token.token[:10],  # Zendesk shows only the first 10 characters
                "client_id": token.client,
                "user_id": token.user_id,
                "scopes": list(token.scopes),
                "created_at": token.created_at,
            }
        }
    )
