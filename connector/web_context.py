"""What every blueprint shares: the runtime of the app, the one JSON error shape, the admin
bearer-token guard.

Every error answers ``{"error": {"code": "...", "message": "..."}}`` with a fitting status.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, jsonify, request

from connector.errors import DeskguardError, Unauthorized

if TYPE_CHECKING:
    from connector.runtime import Runtime
    from connector.settings import Config


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    body = {"error": {"code": code, "message": message, **extra}}
    response = jsonify(body)
    response.status_code = status
    return response


def get_runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["deskguard"]  # create_app puts it there
    return runtime


class AdminApiDisabled(DeskguardError):
    http_status = 403
    code = "admin_api_disabled"


class TooManyAttempts(DeskguardError):
    http_status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def admin_token_matches(config: Config, presented: str | None) -> bool:
    """Constant-time check of a presented token against DESKGUARD_ADMIN_TOKEN.

    When DESKGUARD_ADMIN_TOKEN is unset, nothing matches.
    """
    expected = config.admin_token
    if not expected or not presented:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), str(expected).encode("utf-8"))


def require_admin() -> None:
    """``before_request`` guard for the admin API.

    It needs DESKGUARD_ADMIN_TOKEN as a bearer token, and a known tenant. The token is compared
    before any rate limit is consulted: the correct token is never refused (a guesser cannot
    lock the admin out of the kill switch); wrong ones count towards the client's limit and get
    429 past it (``connector/dashboard/login_limit.py``).
    """
    from connector.dashboard import login_limit  # shares the /admin sign-in's failure counter
    from connector.tenants import get_tenant

    runtime = get_runtime()
    config = runtime.config
    if not config.admin_token:
        raise AdminApiDisabled("the admin API is off: set DESKGUARD_ADMIN_TOKEN")
    ip = login_limit.client_ip(request, config.trusted_proxy_hops)
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header.startswith("Bearer ") else ""
    if admin_token_matches(config, presented):
        login_limit.clear(runtime.db, ip)
    else:
        lockout = login_limit.wrong_bearer(runtime.db, config, ip, via="admin_api")
        if lockout is not None:
            raise TooManyAttempts(lockout.message(), retry_after=lockout.retry_after)
        raise Unauthorized(
            "a valid admin token is required (Authorization: Bearer <DESKGUARD_ADMIN_TOKEN>)"
        )
    tenant = (request.view_args or {}).get("tenant")
    if tenant is not None:
        get_tenant(get_runtime().db, tenant)  # NotFound → 404
