"""Vendor API versions as data: Shopify's quarterly versions and their support window, Stripe's
dated versions. Pure functions on strings and dates (no vendor SDK, no I/O), shared by the
settings check (``config_warnings``), the Shopify adapter and the Shopify emulator.

Shopify ("About Shopify API versioning", https://shopify.dev/docs/api/usage/versioning): a stable
version is released every three months at the start of a quarter and is named after it
(``2026-10``); each stable version is supported for at least 12 months, after which requests to it
"fall forward" to the oldest supported version. ``unstable`` is never a supported version.

Stripe ("How API versioning works", https://docs.stripe.com/api-versions): versions are named
``YYYY-MM-DD.<major release name>`` (``2026-10-28.endive``) and dated by their release; a request
without a ``Stripe-Version`` header runs on the account's default version.
"""

from __future__ import annotations

import re
from datetime import date

SHOPIFY_SUPPORT_MONTHS = 12  # "Each stable version is supported for a minimum of 12 months"
SHOPIFY_RELEASE_MONTHS = (1, 4, 7, 10)
_SHOPIFY_STABLE = re.compile(r"(\d{4})-(01|04|07|10)")
_STRIPE_VERSION = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:\.([a-z]+))?")


# --- Shopify ---------------------------------------------------------------------------------
def shopify_release_date(version: str) -> date | None:
    """The day a stable version was released (``2026-10`` → 1 October 2026); None for
    ``unstable`` or anything that is not a stable version name."""
    m = _SHOPIFY_STABLE.fullmatch(version.strip())
    return date(int(m.group(1)), int(m.group(2)), 1) if m else None


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, day.day)


def shopify_supported_until(version: str) -> date | None:
    """The earliest day Shopify may stop supporting ``version`` (release + 12 months)."""
    released = shopify_release_date(version)
    return _add_months(released, SHOPIFY_SUPPORT_MONTHS) if released else None


def shopify_supported_versions(today: date) -> list[str]:
    """The stable versions inside their guaranteed support window on ``today``, oldest first
    (in December 2026: 2026-01, 2026-04, 2026-07, 2026-10)."""
    out = []
    for back in range(SHOPIFY_SUPPORT_MONTHS + 3, -1, -1):
        start = _add_months(date(today.year, today.month, 1), -back)
        if start.month not in SHOPIFY_RELEASE_MONTHS:
            continue
        version = f"{start.year:04d}-{start.month:02d}"
        until = shopify_supported_until(version)
        if until is not None and start <= today < until:
            out.append(version)
    return out


def shopify_version_status(version: str, today: date) -> str:
    """``supported``, ``unsupported`` (past its window), ``unreleased`` (a future quarter),
    ``unstable`` or ``invalid``."""
    value = version.strip()
    if value == "unstable":
        return "unstable"
    released = shopify_release_date(value)
    if released is None:
        return "invalid"
    if released > today:
        return "unreleased"
    return "supported" if value in shopify_supported_versions(today) else "unsupported"


def shopify_answered_version(requested: str, today: date) -> str:
    """The version Shopify serves a request for ``requested``: itself while supported (or
    ``unstable``), else the oldest supported version ("falls forward")."""
    status = shopify_version_status(requested, today)
    if status in ("supported", "unstable", "unreleased", "invalid"):
        return requested
    supported = shopify_supported_versions(today)
    return supported[0] if supported else requested


# --- Stripe ----------------------------------------------------------------------------------
def stripe_version_date(version: str) -> date | None:
    """The release date in a Stripe API version (``2026-10-28.endive`` → 28 October 2026)."""
    m = _STRIPE_VERSION.fullmatch(version.strip())
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def is_stripe_version(version: str) -> bool:
    return stripe_version_date(version) is not None


def stripe_version_older(version: str, than: str) -> bool:
    """True when ``version`` was released before ``than`` (both Stripe version names)."""
    a, b = stripe_version_date(version), stripe_version_date(than)
    return a is not None and b is not None and a < b


__all__ = [
    "SHOPIFY_SUPPORT_MONTHS",
    "is_stripe_version",
    "shopify_answered_version",
    "shopify_release_date",
    "shopify_supported_until",
    "shopify_supported_versions",
    "shopify_version_status",
    "stripe_version_date",
    "stripe_version_older",
]
