"""`config check` warns about vendor API versions: a Shopify version past its 12-month support
window (computed from the version and the date, with an injectable "today") and a Stripe version
older than the one the installed stripe-python pins."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.stripe import SDK_API_VERSION
from connector.api_versions import (
    shopify_answered_version,
    shopify_supported_until,
    shopify_supported_versions,
    shopify_version_status,
    stripe_version_date,
    stripe_version_older,
)
from connector.settings import config_warnings, load_config

DECEMBER_2026 = date(2026, 12, 7)
SDK = "2026-10-28.endive"


def warnings_for(today: date, sdk: str = SDK, **overrides) -> list[str]:
    config = load_config(overrides, environ={}, dotenv_path=None)
    return config_warnings(config, today=today, stripe_sdk_version=sdk)


def about(warnings: list[str], variable: str) -> list[str]:
    return [w for w in warnings if w.startswith(variable)]


# --- the support window ------------------------------------------------------------------------
def test_supported_shopify_versions_in_december_2026():
    assert shopify_supported_versions(DECEMBER_2026) == ["2026-01", "2026-04", "2026-07", "2026-10"]


@pytest.mark.parametrize(
    ("today", "oldest", "newest"),
    [
        (date(2026, 9, 30), "2025-10", "2026-07"),  # 2025-10's last guaranteed day
        (date(2026, 10, 1), "2026-01", "2026-10"),  # 2026-10 released, 2025-10 out
        (date(2027, 1, 1), "2026-04", "2027-01"),  # across a year
        (date(2024, 2, 29), "2023-04", "2024-01"),
    ],
)
def test_the_window_moves_with_the_date(today, oldest, newest):
    supported = shopify_supported_versions(today)
    assert (supported[0], supported[-1], len(supported)) == (oldest, newest, 4)


def test_version_statuses_and_falling_forward():
    assert shopify_supported_until("2026-10") == date(2027, 10, 1)
    assert shopify_version_status("2025-01", DECEMBER_2026) == "unsupported"
    assert shopify_version_status("2026-01", DECEMBER_2026) == "supported"
    assert shopify_version_status("2027-01", DECEMBER_2026) == "unreleased"
    assert shopify_version_status("unstable", DECEMBER_2026) == "unstable"
    assert shopify_version_status("2026-02", DECEMBER_2026) == "invalid"
    assert shopify_answered_version("2025-01", DECEMBER_2026) == "2026-01"
    assert shopify_answered_version("2026-07", DECEMBER_2026) == "2026-07"


def test_stripe_versions_compare_by_date():
    assert stripe_version_date("2026-10-28.endive") == date(2026, 10, 28)
    assert stripe_version_date("2020-08-27") == date(2020, 8, 27)  # pre-2024 names
    assert stripe_version_date("2026-13-01.x") is None and stripe_version_date("endive") is None
    assert stripe_version_older("2025-01-27.acacia", "2026-10-28.endive")
    assert not stripe_version_older("2026-10-28.endive", "2026-10-28.endive")
    assert not stripe_version_older("garbage", "2026-10-28.endive")


# --- config check --------------------------------------------------------------------------------
def test_the_defaults_raise_no_version_warning_today_or_in_december_2026():
    assert about(warnings_for(DECEMBER_2026), "DESKGUARD_SHOPIFY_API_VERSION") == []
    assert about(warnings_for(DECEMBER_2026), "DESKGUARD_STRIPE_API_VERSION") == []
    # against the stripe-python actually installed, not a stand-in
    config = load_config({}, environ={}, dotenv_path=None)
    live = config_warnings(config, today=DECEMBER_2026)
    assert about(live, "DESKGUARD_STRIPE_API_VERSION") == [], SDK_API_VERSION


def test_an_out_of_support_shopify_version_is_warned_about():
    [warning] = about(
        warnings_for(DECEMBER_2026, shopify_api_version="2025-01"), "DESKGUARD_SHOPIFY_API_VERSION"
    )
    assert "2025-01 is past Shopify's support window" in warning
    assert "supported are 2026-01 to 2026-10" in warning and "serves it as 2026-01" in warning
    assert "Set it to 2026-10" in warning


def test_the_default_itself_ages_out():
    # a year after 2026-10's window closes, the default needs an upgrade too
    [warning] = about(warnings_for(date(2027, 10, 2)), "DESKGUARD_SHOPIFY_API_VERSION")
    assert "2026-10 is past" in warning and "2027-01 to 2027-10" in warning


def test_unreleased_and_unstable_shopify_versions_are_warned_about():
    [future] = about(
        warnings_for(DECEMBER_2026, shopify_api_version="2027-04"), "DESKGUARD_SHOPIFY_API_VERSION"
    )
    assert "not released yet" in future
    [unstable] = about(
        warnings_for(DECEMBER_2026, shopify_api_version="unstable"),
        "DESKGUARD_SHOPIFY_API_VERSION",
    )
    assert "changes without notice" in unstable


def test_a_stripe_version_older_than_the_sdk_pin_is_warned_about():
    [warning] = about(
        warnings_for(DECEMBER_2026, stripe_api_version="2025-01-27.acacia"),
        "DESKGUARD_STRIPE_API_VERSION",
    )
    assert "older than 2026-10-28.endive" in warning and "set it to 2026-10-28.endive" in warning
    newer_sdk = warnings_for(DECEMBER_2026, sdk="2027-03-31.foxglove")
    assert about(newer_sdk, "DESKGUARD_STRIPE_API_VERSION")  # an SDK upgrade is noticed
