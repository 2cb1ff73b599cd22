"""Token estimates and prompt caching in the Anthropic sandbox.

Blocks up to the last ``cache_control`` breakpoint (order: tools, system, messages) form the
cached prefix. The first request with a prefix reports ``cache_creation_input_tokens``, later
ones within the TTL (5m or 1h) report ``cache_read_input_tokens``; a prefix shorter than the
model's minimum is silently not cached, as on the real API. Tokens are estimated as
characters / 4, so counts are plausible, not Anthropic's tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from connector.devkit.sandbox.anthropic.state import AnthropicState

CHARS_PER_TOKEN = 4.0
DEFAULT_MIN_CACHE_TOKENS = 1024
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


def estimate_tokens(value: Any) -> int:
    text = (
        value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    )
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) if text else 0


def _blocks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every cacheable block in prompt order: tools, then system, then message content."""
    out: list[tuple[str, dict[str, Any]]] = [("tool", t) for t in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        out.append(("system", {"type": "text", "text": system}))
    elif isinstance(system, list):
        out += [("system", b) for b in system]
    for message in body["messages"]:
        content = message["content"]
        if isinstance(content, str):
            out.append((message["role"], {"type": "text", "text": content}))
        else:
            out += [(message["role"], b) for b in content]
    return out


def usage_for(state: AnthropicState, api_key: str, body: dict[str, Any]) -> dict[str, int]:
    blocks = _blocks(body)
    sizes = [
        estimate_tokens({k: v for k, v in b.items() if k != "cache_control"}) for _, b in blocks
    ]
    total = sum(sizes) + 4 * len(body["messages"])  # a few tokens of role framing per turn
    breakpoints = [
        i for i, (_, b) in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")
    ]
    if body.get("cache_control") and blocks:  # top-level: automatic breakpoint on the last block
        breakpoints.append(len(blocks) - 1)
    usage = {"input_tokens": total, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if not breakpoints:
        return usage
    last = max(breakpoints)
    prefix_tokens = sum(sizes[: last + 1])
    if prefix_tokens < state.min_cache_tokens.get(body["model"], DEFAULT_MIN_CACHE_TOKENS):
        return usage  # too short: silently not cached (both counters stay 0)
    control = blocks[last][1].get("cache_control") or body.get("cache_control") or {}
    ttl = TTL_SECONDS.get(control.get("ttl", "5m"), TTL_SECONDS["5m"])
    prefix = json.dumps([b for _, b in blocks[: last + 1]], sort_keys=True, ensure_ascii=False)
    key = hashlib.sha256(f"{api_key}\0{body['model']}\0{prefix}".encode()).hexdigest()
    hit = state._cache_lookup(key, ttl)
    usage["input_tokens"] = total - prefix_tokens
    usage["cache_read_input_tokens" if hit else "cache_creation_input_tokens"] = prefix_tokens
    return usage
