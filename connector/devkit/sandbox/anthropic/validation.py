"""Request validation in the Anthropic sandbox: the checks the Messages API makes before it
answers (model, max_tokens ≥ 1, user/assistant turns, system blocks, tools with an
``input_schema``, a ``tool_choice`` that names a declared tool; no streaming)."""

from __future__ import annotations

from typing import Any

from connector.devkit.sandbox.anthropic.state import ApiError

KNOWN_PARAMS = {
    "model",
    "max_tokens",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "thinking",
    "service_tier",
    "output_config",
    "cache_control",
    "container",
    "inference_geo",
    "speed",
    "diagnostics",
    "user_profile_id",
    "workspace_id",
}


# Sampling parameters the current models refuse (400 invalid_request_error). Newer models reject
# any of them ("`temperature` is deprecated for this model", as reported against claude-opus-4-7
# in https://github.com/Comfy-Org/ComfyUI/issues/13923); the 4.5 generation (and Opus 4.1)
# rejects temperature and top_p together ("temperature and top_p cannot both be specified for
# this model", https://github.com/browseros-ai/BrowserOS/issues/208).
NO_SAMPLING_MODELS = ("claude-opus-4-7", "claude-opus-5", "claude-sonnet-5")
ONE_SAMPLER_MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1", "claude-opus-4-5")
SAMPLING = ("temperature", "top_p", "top_k")


def validate_sampling(body: dict[str, Any]) -> None:
    model = str(body.get("model", ""))
    given = [p for p in SAMPLING if p in body]
    if given and model.startswith(NO_SAMPLING_MODELS):
        raise ApiError(400, f"`{given[0]}` is deprecated for this model.")
    if "temperature" in body and "top_p" in body and model.startswith(ONE_SAMPLER_MODELS):
        raise ApiError(
            400,
            "temperature and top_p cannot both be specified for this model. Please use only one.",
        )


def validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    unknown = sorted(set(body) - KNOWN_PARAMS)
    if unknown:
        raise ApiError(400, f"{unknown[0]}: Extra inputs are not permitted")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ApiError(400, "model: Field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise ApiError(400, "max_tokens: must be an integer ≥ 1")
    validate_sampling(body)
    if body.get("stream"):
        raise ApiError(400, "stream: streaming is not emulated by the sandbox")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: at least one message is required")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise ApiError(400, f"messages.{i}.role: must be user or assistant")
        if not isinstance(m.get("content"), (str, list)):
            raise ApiError(400, f"messages.{i}.content: must be a string or a list of blocks")
    if messages[0]["role"] != "user":
        raise ApiError(400, "messages: the first message must use the user role")
    system = body.get("system")
    if (
        system is not None
        and not isinstance(system, str)
        and not (
            isinstance(system, list)
            and all(isinstance(b, dict) and b.get("type") == "text" for b in system)
        )
    ):
        raise ApiError(400, "system: must be a string or a list of text blocks")
    tools = body.get("tools") or []
    names = set()
    for i, tool in enumerate(tools):
        if (
            not isinstance(tool, dict)
            or not tool.get("name")
            or not isinstance(tool.get("input_schema"), dict)
        ):
            raise ApiError(400, f"tools.{i}: a custom tool needs name and input_schema")
        names.add(tool["name"])
    choice = body.get("tool_choice")
    if choice is not None:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if kind not in ("auto", "any", "tool", "none"):
            raise ApiError(400, "tool_choice.type: must be auto, any, tool or none")
        if kind == "tool" and choice.get("name") not in names:
            raise ApiError(400, f"tool_choice.name: no tool named {choice.get('name')!r} in tools")
        if kind in ("any", "tool") and not tools:
            raise ApiError(400, "tool_choice: requires tools")
