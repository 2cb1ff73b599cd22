"""Request validation in the Anthropic sandbox: the checks the Messages API makes before it
answers (model, max_tokens ≥ 1, user/assistant turns, system blocks, tools with an
``input_schema``, a ``tool_choice`` that names a declared tool; no streaming), and the model
rules of the Claude 5.5 generation that Deskguard's requests depend on (docs/vendors/anthropic.md):
no sampling parameters, no assistant prefill, thinking on by default, forced tool use refused
with thinking on (or at all on Sonnet/Opus 5.5), and structured output (``output_config.format``)
with a JSON schema in the subset structured outputs accept."""

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
# Claude Haiku 5.5 answers an error to non-default temperature, top_p or top_k ("Claude Haiku
# 5.5 migration guide", https://platform.claude.com/docs/en/models/haiku-5-5/migration-guide).
NO_SAMPLING_MODELS = ("claude-opus-4-7", "claude-opus-5", "claude-sonnet-5", "claude-haiku-5-5")
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


# Prefilling the assistant turn returns 400 on the Claude 4.6 models and later (Haiku 5.5
# migration guide: "end messages with a user turn"). The message text is ours.
NO_PREFILL_MODELS = (
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-opus-5",
    "claude-sonnet-5",
    "claude-haiku-5-5",
)
# Thinking on unless the request says otherwise ("What's new in Claude Haiku 5.5": adaptive
# thinking by default; Sonnet/Opus 5.5 cannot turn it off).
THINKING_BY_DEFAULT = ("claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5")
ALWAYS_THINKING = ("claude-sonnet-5-5", "claude-opus-5-5")
# Forced tool use returns an error on these whatever the thinking setting ("What's new in Claude
# Sonnet 5.5", https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5).
NO_FORCED_TOOL_MODELS = ("claude-sonnet-5-5", "claude-opus-5-5")
# The documented error for forced tool use with thinking ("Building with extended thinking",
# feature compatibility; the message as reported in https://github.com/mastra-ai/mastra/issues/7507).
FORCED_WITH_THINKING = "Thinking may not be enabled when tool_choice forces tool use."
EFFORTS = ("low", "medium", "high", "xhigh", "max")
# What structured outputs do not accept in a schema (a third-party summary of the structured
# outputs page's "JSON Schema limitations": https://docs.rs/crate/claude-agent/latest/source/src/client/schema.rs).
UNSUPPORTED_SCHEMA_KEYWORDS = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "maxItems",
        "minProperties",
        "maxProperties",
    }
)


def thinking_on(body: dict[str, Any]) -> bool:
    """Whether the model thinks on this request: an explicit ``thinking`` type, else the
    model's default."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        return thinking.get("type") in ("enabled", "adaptive")
    return str(body.get("model", "")).startswith(THINKING_BY_DEFAULT)


def validate_thinking(body: dict[str, Any]) -> None:
    thinking = body.get("thinking")
    if thinking is None:
        return
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "adaptive", "disabled"):
        raise ApiError(400, "thinking.type: must be enabled, adaptive or disabled")
    model = str(body.get("model", ""))
    if kind == "enabled" and model.startswith(THINKING_BY_DEFAULT):
        raise ApiError(400, '"thinking.type.enabled" is not supported for this model.')
    if kind == "disabled" and model.startswith(ALWAYS_THINKING):
        raise ApiError(400, '"thinking.type.disabled" is not supported for this model.')


def validate_forced_tool_use(body: dict[str, Any]) -> None:
    choice = body.get("tool_choice")
    if not (isinstance(choice, dict) and choice.get("type") in ("any", "tool")):
        return
    if str(body.get("model", "")).startswith(NO_FORCED_TOOL_MODELS):
        raise ApiError(400, "tool_choice: forcing tool use is not supported for this model.")
    if thinking_on(body):
        raise ApiError(400, FORCED_WITH_THINKING)


def _schema_problem(schema: Any, path: str) -> str | None:
    if not isinstance(schema, dict):
        return f"{path}: must be an object"
    bad = sorted(UNSUPPORTED_SCHEMA_KEYWORDS & set(schema))
    if bad:
        return f"{path}: '{bad[0]}' is not supported in structured output schemas"
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        return f"{path}: objects must set additionalProperties to false"
    for name, sub in (schema.get("properties") or {}).items():
        problem = _schema_problem(sub, f"{path}.properties.{name}")
        if problem:
            return problem
    if "items" in schema:
        return _schema_problem(schema["items"], f"{path}.items")
    return None


def validate_output_config(body: dict[str, Any]) -> None:
    config = body.get("output_config")
    if config is None:
        return
    if not isinstance(config, dict):
        raise ApiError(400, "output_config: must be an object")
    if config.get("effort") is not None and config["effort"] not in EFFORTS:
        raise ApiError(400, f"output_config.effort: must be one of {', '.join(EFFORTS)}")
    fmt = config.get("format")
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        raise ApiError(400, "output_config.format.type: must be json_schema")
    problem = _schema_problem(fmt.get("schema"), "output_config.format.schema")
    if problem:
        raise ApiError(400, problem)


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
    if messages[-1]["role"] == "assistant" and body["model"].startswith(NO_PREFILL_MODELS):
        raise ApiError(
            400, "messages: prefilling the assistant turn is not supported for this model"
        )
    validate_thinking(body)
    validate_output_config(body)
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
    validate_forced_tool_use(body)
