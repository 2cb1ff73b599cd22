"""Errors with retry semantics.

Adapters translate every vendor error into one of these at the boundary. Errors carry
``should_retry`` / ``retry_after``, so nothing has to match on message strings.
The worker reads these attributes to decide between a backoff retry and the dead-letter state.
"""

from __future__ import annotations


class DeskguardError(Exception):
    """Base class. ``http_status`` is the status our own API answers with."""

    http_status = 500
    code = "internal_error"

    def __init__(
        self, message: str = "", *, http_status: int | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.message = message
        if http_status is not None:
            self.http_status = http_status
        if code is not None:
            self.code = code


class ConfigError(DeskguardError):
    """A setting is missing or malformed; the message names the variable."""

    code = "config_error"


class VendorError(DeskguardError):
    """An error talking to Zendesk, Shopify, Stripe or Anthropic."""

    should_retry = False

    def __init__(
        self,
        message: str = "",
        *,
        vendor: str = "",
        status: int | None = None,
        retry_after: float | None = None,
        http_status: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message, http_status=http_status, code=code)
        self.vendor = vendor
        self.status = status  # the vendor's HTTP status, when there was one
        self.retry_after = retry_after  # seconds, when the vendor said


class TransientError(VendorError):
    """Try again later: timeouts, connection errors, 429, 5xx."""

    should_retry = True
    http_status = 503
    code = "vendor_unavailable"


class PermanentError(VendorError):
    """Retrying will not help: bad credentials, 4xx validation, not found."""

    should_retry = False
    http_status = 502
    code = "vendor_rejected"


class KillSwitchEngaged(DeskguardError):
    """A write was stopped because the tenant's kill switch is on. The job is deferred."""

    http_status = 409
    code = "kill_switch_on"


class NotFound(DeskguardError):
    http_status = 404
    code = "not_found"


class BadRequest(DeskguardError):
    http_status = 400
    code = "bad_request"


class Forbidden(DeskguardError):
    http_status = 403
    code = "forbidden"


class Unauthorized(DeskguardError):
    http_status = 401
    code = "unauthorized"
