"""Checks that a signed webhook body has the shape its vendor documents, shared by the Zendesk,
Shopify and Stripe endpoints.

A valid signature proves who wrote the bytes, not what they mean: a body signed for one purpose
can be replayed for another, and a vendor-signed body can still hold values our code cannot use
(``1e20`` as a timestamp, ``Infinity``, an id beyond 64 bits, a string where an object belongs).
Every endpoint therefore parses strictly and validates each field it relies on *before* anything
is stored or enqueued; a body that fails answers 400 ``invalid_payload`` in the one JSON error
shape, and nothing happens. The per-vendor shapes live next to each endpoint
(connector/zendesk/web.py, connector/commerce/shopify_shapes.py,
connector/commerce/stripe_webhooks.py); this module holds the small typed checks they share.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from connector.errors import BadRequest

MAX_ID = 2**63 - 1  # SQLite INTEGER and every vendor id we store fit in a signed 64-bit int
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z: the last second datetime can show


class InvalidPayload(BadRequest):
    code = "invalid_payload"


class InvalidJson(BadRequest):
    code = "invalid_json"


def _no_constants(name: str) -> Any:
    # json.loads accepts NaN, Infinity and -Infinity by default; no vendor sends them.
    raise ValueError(f"{name} is not valid JSON")


def loads_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object: InvalidJson (400) when it is not JSON, InvalidPayload (400) when
    it is JSON but not an object; never a 500.

    Refuses ``NaN``/``Infinity`` literals and nesting too deep for the parser (RecursionError).
    """
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidJson("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object")
    return data


def obj(data: Mapping[str, Any], key: str, where: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise InvalidPayload(f"{where}{key} must be a JSON object")
    return value


def positive_id(value: Any, name: str, *, digits_ok: bool = True) -> int:
    """A positive integer id below 2^63: a JSON integer, or (``digits_ok``) a string of ASCII
    digits. Booleans, floats, ``"1e3"``, ``"²"`` and non-ASCII digits are refused."""
    if isinstance(value, bool):
        raise InvalidPayload(f"{name} must be a positive integer")
    if isinstance(value, str) and digits_ok:
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 19):
            raise InvalidPayload(f"{name} must be a positive integer below 2^63")
        value = int(text)
    if not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise InvalidPayload(f"{name} must be a positive integer below 2^63")
    return value


def optional_id(value: Any, name: str) -> int | None:
    return None if value is None else positive_id(value, name)


def unix_seconds(value: Any, name: str) -> int:
    """Seconds since the epoch as a JSON integer between 0 and the year 9999."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UNIX_SECONDS:
        raise InvalidPayload(f"{name} must be unix seconds (an integer up to year 9999)")
    return value


def finite_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidPayload(f"{name} must be a finite number")
    return float(value)


def text(value: Any, name: str, *, max_len: int = 1000, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise InvalidPayload(f"{name} must be a string of at most {max_len} characters")
    return value


def non_empty_text(value: Any, name: str, *, max_len: int = 255) -> str:
    result = text(value, name, max_len=max_len)
    if not result or not result.strip():
        raise InvalidPayload(f"{name} must be a non-empty string")
    return result


def id_list(value: Any, name: str, *, max_items: int = 10_000) -> list[int]:
    if not isinstance(value, list) or len(value) > max_items:
        raise InvalidPayload(f"{name} must be a list of ids")
    return [positive_id(v, f"{name}[{i}]") for i, v in enumerate(value)]


def refuse_keys(data: Mapping[str, Any], keys: tuple[str, ...], what: str) -> None:
    """Keys that mark a body as another topic's: their presence means it was signed for that one."""
    found = [k for k in keys if k in data]
    if found:
        raise InvalidPayload(f"a {what} body has no {', '.join(found)} (signed for another topic?)")
