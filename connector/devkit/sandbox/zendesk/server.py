"""Running a Zendesk sandbox in a background thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from connector.devkit.sandbox import RunningServer, serve_in_thread
from connector.devkit.sandbox.zendesk.app import create_zendesk_app
from connector.devkit.sandbox.zendesk.state import ZendeskState


@dataclass
class ZendeskSandbox:
    """A running sandbox: its state, its server, and the API credentials it accepts."""

    state: ZendeskState
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def agent_email(self) -> str:
        return self.state.agent["email"]

    @property
    def agent_token(self) -> str:
        return self.state.agent_token

    def stop(self, *, wait: bool = True) -> None:
        """Stop serving; ``wait=False`` returns at once (the server's poll loop ends within
        0.5 s)."""
        if not wait:
            threading.Thread(target=self.stop, name="zendesk-sandbox-stop", daemon=True).start()
            return
        self.server.stop()
        self.state.close()


def start_zendesk_sandbox(
    state: ZendeskState | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **state_options: Any,
) -> ZendeskSandbox:
    """Serve a Zendesk sandbox in a background thread (port 0 picks a free port)."""
    state = state or ZendeskState(**state_options)
    server = serve_in_thread(create_zendesk_app(state), host=host, port=port)
    state.base_url = (
        server.url if host in ("127.0.0.1", "0.0.0.0") else f"http://{host}:{server.port}"
    )
    return ZendeskSandbox(state, server)
