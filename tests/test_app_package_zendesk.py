"""The packaged app's settings, installed in the Zendesk sandbox, reach the sidecar through the real
Zendesk adapter (zenpy over HTTP): the kill-switch checkbox flips the switch the panel shows."""

from __future__ import annotations

import json

import zendesk_support
from panel_support import TENANT, agent_headers

from connector.panel import app_package
from connector.panel.auth import issue_token
from connector.pipeline import killswitch
from connector.web import create_app

sandbox, zd_runtime = zendesk_support.sandbox, zendesk_support.zd_runtime


def installed_settings(sidecar_url: str) -> dict:
    """What an admin's install form holds: the manifest's defaults (secure values are never
    returned by the Installations API, so api_token is left out, as Zendesk does)."""
    manifest = json.loads(app_package.package_files(sidecar_url)["manifest.json"])
    return {p["name"]: p.get("default") for p in manifest["parameters"] if not p.get("secure")}


def test_app_settings_flow_from_the_installation_to_the_panel(sandbox, zd_runtime):
    sandbox.state.install_app(installed_settings("https://deskguard.acme-shop.com"))
    desk = zd_runtime.services(TENANT).require_desk()
    settings = desk.app_installation_settings()
    assert {
        k: settings[k] for k in ("sidecar_url", "kill_switch", "default_mode", "auto_categories")
    } == {
        "sidecar_url": "https://deskguard.acme-shop.com",
        "kill_switch": False,
        "default_mode": "shadow",
        "auto_categories": "",
    }
    assert "api_token" not in settings

    client = create_app(runtime=zd_runtime).test_client()
    token = issue_token(zd_runtime.db, TENANT)[1]

    def panel_kill_switch() -> bool:
        return client.get("/panel/api/me", headers=agent_headers(token)).get_json()["kill_switch"]

    assert killswitch.sync_from_app(zd_runtime, TENANT) is False and panel_kill_switch() is False
    sandbox.state.set_app_settings(kill_switch=True)  # an admin ticks the checkbox in Zendesk
    assert killswitch.sync_from_app(zd_runtime, TENANT) is True
    assert panel_kill_switch() is True
