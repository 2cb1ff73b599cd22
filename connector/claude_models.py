"""Claude models as data: lifecycle status, list prices and how each takes a forced tool call.

Pure data and functions on strings (no vendor SDK, no I/O), shared by the settings check
(``config_warnings`` → ``claude_model_warnings``) and the Claude engine
(connector/classify/claude.py). The facts and their sources are in docs/vendors/anthropic.md.

Lifecycle ("Model deprecations", https://platform.claude.com/docs/en/about-claude/model-deprecations):
active (supported, recommended), legacy (no more updates, may be deprecated), deprecated (still
answers, has a retirement date), retired (requests fail). A dated id
(``claude-haiku-4-5-20251001``) has the status of its alias.

Forced tool use (``tool_choice`` ``tool``/``any``) cannot be combined with thinking: the API
answers 400 "Thinking may not be enabled when tool_choice forces tool use" ("Building with
extended thinking", feature compatibility,
https://platform.claude.com/docs/en/build-with-claude/extended-thinking). Claude Sonnet 5.5 and
Opus 5.5 refuse forced tool use outright ("What's new in Claude Sonnet 5.5",
https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5). Claude Haiku 5.5
thinks by default ("What's new in Claude Haiku 5.5",
https://platform.claude.com/docs/en/models/haiku-5-5/whats-new-haiku-5-5), so it is listed as
refusing too and read through structured output from the first ticket (whether its default
thinking alone makes the forced call fail is UNCONFIRMED; structured output works either way).
A model not in the table is tried with a forced call once; on that 400 the engine switches to
structured output for good.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CURRENT_HAIKU = "claude-haiku-5-5"
DEPRECATIONS_URL = "https://platform.claude.com/docs/en/about-claude/model-deprecations"
HAIKU_55_MIGRATION_URL = "https://platform.claude.com/docs/en/models/haiku-5-5/migration-guide"
PRICING_URL = "https://platform.claude.com/docs/en/about-claude/pricing"

# The error code adapters/anthropic.py gives the 400 that refuses a forced tool call.
FORCED_TOOL_USE_REFUSED = "forced_tool_use_refused"
# How a model takes tool_choice {"type": "tool"}: "supported", "refused" (documented 400), or
# "unknown" (try once; on the documented 400 switch to structured output for good).
FORCED_TOOL_USE = ("supported", "refused", "unknown")


@dataclass(frozen=True)
class Prices:
    """List prices in USD per million tokens (prompts up to 100k tokens where tiered)."""

    input: float
    output: float
    cache_write: float  # 5-minute cache write
    cache_read: float


@dataclass(frozen=True)
class ModelInfo:
    status: str  # active | legacy | deprecated | retired
    since: str  # when it reached that status, as the source says it
    replacement: str | None
    source: str  # the document the status comes from
    prices: Prices | None = None
    forced_tool_use: str = "supported"


_HAIKU_45 = ModelInfo(
    "legacy",
    "October 2026 (Claude Haiku 5.5 released)",
    CURRENT_HAIKU,
    HAIKU_55_MIGRATION_URL,
    Prices(1.00, 5.00, 1.25, 0.10),
)
MODELS: dict[str, ModelInfo] = {
    "claude-haiku-5-5": ModelInfo(
        "active",
        "7 October 2026",
        None,
        "https://platform.claude.com/docs/en/models/haiku-5-5/overview",
        Prices(0.10, 0.50, 0.125, 0.01),
        forced_tool_use="refused",  # thinks by default; see the module docstring
    ),
    "claude-sonnet-5-5": ModelInfo(
        "active",
        "2026",
        None,
        "https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5",
        forced_tool_use="refused",
    ),
    "claude-opus-5-5": ModelInfo(
        "active",
        "22 September 2026",
        None,
        "https://platform.claude.com/docs/en/models/opus-5-5/whats-new-opus-5-5",
        forced_tool_use="refused",
    ),
    "claude-haiku-4-5": _HAIKU_45,
    # Retired models fail every request; the replacement named is today's model of the same tier.
    "claude-3-5-haiku": ModelInfo("retired", "19 February 2026", CURRENT_HAIKU, DEPRECATIONS_URL),
    "claude-3-haiku": ModelInfo(
        "retired",
        "April 2026",
        CURRENT_HAIKU,
        "https://platform.claude.com/docs/en/release-notes/overview",
    ),
    "claude-3-7-sonnet": ModelInfo(
        "retired", "19 February 2026", "claude-sonnet-5-5", DEPRECATIONS_URL
    ),
    "claude-3-5-sonnet": ModelInfo(
        "retired", "28 October 2025", "claude-sonnet-5-5", DEPRECATIONS_URL
    ),
    "claude-3-opus": ModelInfo("retired", "5 January 2026", "claude-opus-5-5", DEPRECATIONS_URL),
    "claude-sonnet-4": ModelInfo(
        "retired",
        "15 June 2026",
        "claude-sonnet-5-5",
        "https://platform.claude.com/docs/en/release-notes/overview",
    ),
    "claude-opus-4": ModelInfo(
        "retired",
        "15 June 2026",
        "claude-opus-5-5",
        "https://platform.claude.com/docs/en/release-notes/overview",
    ),
}

_DATED = re.compile(r"-(\d{8})$")


def alias(model: str) -> str:
    """The undated id: ``claude-3-5-haiku-20241022`` → ``claude-3-5-haiku``."""
    return _DATED.sub("", model.strip())


def model_info(model: str) -> ModelInfo | None:
    return MODELS.get(alias(model))


def forced_tool_use(model: str) -> str:
    """``supported``, ``refused`` or ``unknown`` (see FORCED_TOOL_USE)."""
    info = model_info(model)
    return info.forced_tool_use if info else "unknown"


def claude_model_warnings(model: str, prices: Prices | None = None) -> list[str]:
    """Warnings for DESKGUARD_CLAUDE_MODEL: a legacy, deprecated or retired model (naming its
    replacement and the source), an id Deskguard does not know, or price settings that differ
    from the model's list prices (``prices``: the configured DESKGUARD_CLAUDE_PRICE_* values)."""
    model = model.strip()
    if not model:
        return []
    info = model_info(model)
    if info is None:
        current = ", ".join(sorted(k for k, v in MODELS.items() if v.status == "active"))
        return [
            f"DESKGUARD_CLAUDE_MODEL={model} is not a Claude model Deskguard knows (current: "
            f"{current}); check the id in Anthropic's models overview and set the "
            "DESKGUARD_CLAUDE_PRICE_* settings to its prices"
        ]
    warnings = []
    if info.status != "active":
        consequence = {
            "retired": "every request to it fails",
            "deprecated": "it stops answering on its retirement date",
            "legacy": "it gets no more updates and may be deprecated",
        }[info.status]
        warnings.append(
            f"DESKGUARD_CLAUDE_MODEL={model} is {info.status} since {info.since}: {consequence}. "
            f"Set it to {info.replacement} ({info.source}) and its prices "
            "(DESKGUARD_CLAUDE_PRICE_*, docs/vendors/anthropic.md)"
        )
    if prices is not None and info.prices is not None and prices != info.prices:
        p = info.prices
        warnings.append(
            f"DESKGUARD_CLAUDE_PRICE_* (input {prices.input}, output {prices.output}, cache "
            f"write {prices.cache_write}, cache read {prices.cache_read}) differ from the list "
            f"prices of {alias(model)} (input {p.input}, output {p.output}, cache write "
            f"{p.cache_write}, cache read {p.cache_read} USD per million tokens, {PRICING_URL}): "
            "reported Claude costs will be wrong unless you have negotiated prices"
        )
    return warnings
