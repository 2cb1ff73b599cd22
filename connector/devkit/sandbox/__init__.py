"""Sandbox emulators of the vendor APIs Deskguard uses (Zendesk, Shopify, Stripe, Anthropic).

They speak the vendors' wire formats, auth, pagination, signatures, rate limits and errors, so
the real SDKs talk to them over HTTP on 127.0.0.1 in integration tests and in ``make demo``.
Each emulator is a subpackage (``zendesk``, ``shopify``, ``stripe``, ``anthropic``) whose Flask
app factory registers one blueprint per API resource; ``serve_in_thread`` runs any WSGI app on a
free loopback port.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


@dataclass
class RunningServer:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log lines (the sidecar logs what matters as structured JSON)."""

    def log_request(self, code="-", size="-") -> None:
        pass


def serve_in_thread(app, *, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve a WSGI app (threaded) on loopback; port 0 picks a free port."""
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(
        target=server.serve_forever, name=f"sandbox-{server.server_port}", daemon=True
    )
    thread.start()
    return RunningServer(server, thread)
