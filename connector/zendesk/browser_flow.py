"""An authorization-code + PKCE flow with Zendesk, bound to the browser that started it.

Used by both browser flows that send a person to Zendesk and back: connecting an account
(``connector/zendesk/connect.py``) and signing in to the console (``connector/console/signin.py``).
``start`` redirects to Zendesk's authorize page and keeps the state, the PKCE verifier and the
caller's own fields in an encrypted, HttpOnly, SameSite=Lax cookie scoped to the callback path for
``FLOW_SECONDS``; ``finish`` reads that cookie back on the callback and checks it against Zendesk's
answer (state compared in constant time), raising the caller's refusal with the caller's words.
Sources: "Using PKCE to make Zendesk OAuth access tokens more secure" (docs/vendors/zendesk.md).
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.fernet import InvalidToken
from flask import redirect, request
from werkzeug.wrappers import Response

from adapters.zendesk_oauth import ZendeskOAuthClient, new_code_verifier
from connector.errors import ConfigError, DeskguardError

if TYPE_CHECKING:
    from connector.runtime import Runtime

FLOW_SECONDS = 600


@dataclass(frozen=True)
class Refusals:
    """What to tell the person when the callback does not match the flow (``denied`` may name
    Zendesk's ``{error}``)."""

    missing: str
    invalid: str
    expired: str
    mismatch: str
    denied: str
    no_code: str


def start(
    runtime: Runtime,
    client: ZendeskOAuthClient,
    *,
    cookie: str,
    callback_path: str,
    redirect_uri: str,
    scope: str,
    fields: Mapping[str, Any],
) -> Response:
    """The 302 to Zendesk's authorize page, with the flow's cookie set."""
    state, verifier = secrets.token_urlsafe(32), new_code_verifier()
    url = client.authorization_url(
        redirect_uri=redirect_uri, scope=scope, state=state, code_verifier=verifier
    )
    flow = {**fields, "state": state, "verifier": verifier, "started": time.time()}
    response = redirect(url, code=302)
    response.set_cookie(
        cookie,
        runtime.secrets.box.encrypt(json.dumps(flow)),
        max_age=FLOW_SECONDS,
        path=callback_path,
        httponly=True,
        secure=redirect_uri.startswith("https://"),
        samesite="Lax",
    )
    return response


def finish(
    runtime: Runtime, *, cookie: str, refused: type[DeskguardError], words: Refusals
) -> dict[str, Any]:
    """The flow this browser started, checked against Zendesk's answer on the callback."""
    value = request.cookies.get(cookie)
    if not value:
        raise refused(words.missing)
    try:
        flow = json.loads(runtime.secrets.box.decrypt(value).reveal())
    except (ConfigError, InvalidToken, ValueError):
        raise refused(words.invalid) from None
    if time.time() - float(flow.get("started", 0)) > FLOW_SECONDS:
        raise refused(words.expired)
    state = request.args.get("state") or ""
    if not hmac.compare_digest(state.encode(), str(flow["state"]).encode()):
        raise refused(words.mismatch)
    if request.args.get("error"):
        raise refused(words.denied.format(error=request.args["error"]))
    if not request.args.get("code"):
        raise refused(words.no_code)
    return dict(flow)
