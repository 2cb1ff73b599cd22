"""The Anthropic sandbox's control plane for the demo and tests (``/_sandbox/...``; loopback
only, no auth): inject failures, invalid tool input, scripted texts or delays; reset; read the
request log."""

from __future__ import annotations

from flask import Blueprint, request

from connector.devkit.sandbox.anthropic.state import AnthropicState

OK = {"ok": True}


def sandbox_control_blueprint(state: AnthropicState) -> Blueprint:
    bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")

    @bp.post("/fail")
    def sandbox_fail():
        data = request.get_json(force=True)
        retry_after = data.get("retry_after")
        state.fail(
            int(data.get("status", 529)),
            int(data.get("times", 1)),
            None if retry_after is None else float(retry_after),
        )
        return OK

    @bp.post("/invalid")
    def sandbox_invalid():
        state.invalid_next(int(request.get_json(force=True).get("times", 1)))
        return OK

    @bp.post("/refuse")
    def sandbox_refuse():
        state.refuse_next(int(request.get_json(force=True).get("times", 1)))
        return OK

    @bp.post("/script")
    def sandbox_script():
        state.script_text(*request.get_json(force=True)["texts"])
        return OK

    @bp.post("/delay")
    def sandbox_delay():
        with state.lock:
            state.delay_seconds = float(request.get_json(force=True)["seconds"])
        return OK

    @bp.post("/reset")
    def sandbox_reset():
        state.reset()
        return OK

    @bp.get("/requests")
    def sandbox_requests():
        return {"requests": state.recorded()}

    return bp
