"""The slice of the real Shopify Admin GraphQL schema (2026-10) that the emulator serves.

The emulator parses, validates and executes every request with graphql-core against this slice,
so a document the real API would reject (unknown field, wrong argument type, bad variable) is
rejected here too. The slice is *generated* from Shopify's own introspection result by keeping
the fields listed in ``SUPPORTED`` (with their real arguments and types) plus every enum, scalar
and input type they reference, and is committed as ``shopify_admin_2026_10.graphql`` so the
sandbox works without the full 900 KB spec. A test regenerates it from the spec and fails on drift.
Deprecations (fields, arguments, input fields, enum values) are kept as ``@deprecated`` so the
emulator can name the deprecated parts a request uses, as Shopify's
``X-Shopify-API-Deprecated-Reason`` header does. Shopify's ``@oneOf`` input types are not
expressible in graphql-core 3.2's SDL; the one the emulator takes (``OrderCancelRefundMethodInput``)
is checked by its resolver.

Regenerate::

    python -m connector.devkit.sandbox.shopify_schema \
        tests/data/shopify/admin-2026-10.introspection.json.gz
"""

from __future__ import annotations

import functools
import gzip
import json
import sys
from pathlib import Path
from typing import Any

SDL_PATH = Path(__file__).resolve().parent / "shopify_admin_2026_10.graphql"
API_VERSION = "2026-10"

# Object type → the fields the emulator resolves. Everything else of the real schema is left out.
SUPPORTED: dict[str, tuple[str, ...]] = {
    "QueryRoot": ("orders", "order", "job"),
    "Mutation": ("orderCancel",),
    "OrderConnection": ("nodes", "pageInfo"),
    "PageInfo": ("hasNextPage", "hasPreviousPage", "endCursor", "startCursor"),
    "Order": (
        "id",
        "name",
        "createdAt",
        "email",
        "cancelledAt",
        "cancelReason",
        "closed",
        "displayFinancialStatus",
        "displayFulfillmentStatus",
        "totalPriceSet",
        "lineItems",
        "fulfillments",
        "customer",
    ),
    "MoneyBag": ("shopMoney", "presentmentMoney"),
    "MoneyV2": ("amount", "currencyCode"),
    "LineItemConnection": ("nodes", "pageInfo"),
    "LineItem": ("id", "title", "quantity", "sku"),
    "Fulfillment": (
        "id",
        "status",
        "displayStatus",
        "createdAt",
        "estimatedDeliveryAt",
        "deliveredAt",
        "trackingInfo",
    ),
    "FulfillmentTrackingInfo": ("company", "number", "url"),
    "Customer": ("id", "numberOfOrders", "amountSpent", "tags", "displayName"),
    "OrderCancelPayload": ("job", "orderCancelUserErrors"),
    "Job": ("id", "done"),
    "OrderCancelUserError": ("code", "field", "message"),
}


def _named(type_ref: dict[str, Any]) -> str:
    while type_ref.get("ofType"):
        type_ref = type_ref["ofType"]
    return type_ref["name"]


def _type_text(type_ref: dict[str, Any]) -> str:
    kind = type_ref["kind"]
    if kind == "NON_NULL":
        return _type_text(type_ref["ofType"]) + "!"
    if kind == "LIST":
        return "[" + _type_text(type_ref["ofType"]) + "]"
    return type_ref["name"]


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _deprecated(item: dict[str, Any]) -> str:
    if not item.get("isDeprecated"):
        return ""
    reason = item.get("deprecationReason")
    return f" @deprecated(reason: {_string(reason)})" if reason else " @deprecated"


def _args_text(args: list[dict[str, Any]]) -> str:
    if not args:
        return ""
    parts = []
    for a in args:
        text = f"{a['name']}: {_type_text(a['type'])}"
        if a.get("defaultValue") is not None:
            text += f" = {a['defaultValue']}"
        parts.append(text + _deprecated(a))
    return "(" + ", ".join(parts) + ")"


def _field_text(field: dict[str, Any]) -> str:
    args, kind = _args_text(field["args"]), _type_text(field["type"])
    return f"  {field['name']}{args}: {kind}{_deprecated(field)}"


def subset_sdl(introspection: dict[str, Any]) -> str:
    """SDL for the ``SUPPORTED`` slice of a full introspection result (``data`` or its content)."""
    schema = introspection.get("data", introspection)["__schema"]
    types = {t["name"]: t for t in schema["types"]}
    needed: set[str] = set(SUPPORTED)
    queue = list(SUPPORTED)
    while queue:
        t = types[queue.pop()]
        refs: list[dict[str, Any]] = []
        if t["kind"] == "OBJECT":
            keep = SUPPORTED.get(t["name"])
            if keep is None:
                raise ValueError(f"object type {t['name']} is referenced but not in SUPPORTED")
            by_name = {f["name"]: f for f in t["fields"]}
            missing = [f for f in keep if f not in by_name]
            if missing:
                raise ValueError(f"{t['name']} has no field(s) {missing} in this schema")
            for f in keep:
                refs.append(by_name[f]["type"])
                refs.extend(a["type"] for a in by_name[f]["args"])
        elif t["kind"] == "INPUT_OBJECT":
            refs.extend(f["type"] for f in t["inputFields"])
        for ref in refs:
            name = _named(ref)
            if name not in needed:
                needed.add(name)
                queue.append(name)

    builtin = {"String", "Int", "Float", "Boolean", "ID"}
    out = [
        "# Generated by connector/devkit/sandbox/shopify_schema.py from the Shopify Admin "
        f"{API_VERSION}\n"
        "# introspection result. Do not edit: regenerate (see the module docstring).",
        f"schema {{\n  query: {schema['queryType']['name']}\n"
        f"  mutation: {schema['mutationType']['name']}\n}}",
    ]
    for name in sorted(needed - builtin):
        t = types[name]
        kind = t["kind"]
        if kind == "SCALAR":
            out.append(f"scalar {name}")
        elif kind == "ENUM":
            values = "\n".join(f"  {v['name']}{_deprecated(v)}" for v in t["enumValues"])
            out.append(f"enum {name} {{\n{values}\n}}")
        elif kind == "INPUT_OBJECT":
            fields = "\n".join(
                f"  {f['name']}: {_type_text(f['type'])}{_deprecated(f)}" for f in t["inputFields"]
            )
            out.append(f"input {name} {{\n{fields}\n}}")
        elif kind == "OBJECT":
            by_name = {f["name"]: f for f in t["fields"]}
            fields = "\n".join(_field_text(by_name[f]) for f in SUPPORTED[name])
            out.append(f"type {name} {{\n{fields}\n}}")
        else:  # interfaces and unions are not part of the slice
            raise ValueError(f"{name} is a {kind}; add support before referencing it")
    return "\n\n".join(out) + "\n"


def read_introspection(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as fh:
        return json.load(fh)


@functools.cache
def load_schema():
    """The emulator's executable schema (built once per process)."""
    from graphql import build_schema

    return build_schema(SDL_PATH.read_text())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    SDL_PATH.write_text(subset_sdl(read_introspection(argv[0])))
    print(f"wrote {SDL_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
