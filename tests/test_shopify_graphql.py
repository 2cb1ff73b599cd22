"""Every GraphQL document Deskguard sends validates against Shopify's Admin 2026-10 introspection
schema (tests/data/shopify, see its README) and uses nothing the schema marks ``isDeprecated``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_client_schema,
    get_named_type,
    parse,
    validate,
    visit,
)

from adapters.shopify import API_VERSION as ADAPTER_VERSION
from adapters.shopify import CANCEL_REASONS
from connector.commerce import wismo
from connector.commerce.graphql import document, fragments, operation_names
from connector.devkit.sandbox.shopify_schema import (
    API_VERSION as EMULATOR_VERSION,
)
from connector.devkit.sandbox.shopify_schema import (
    SDL_PATH,
    load_schema,
    read_introspection,
    subset_sdl,
)
from connector.pipeline.proposals import PAID_STATUSES
from connector.settings import setting

SPEC = Path(__file__).resolve().parent / "data" / "shopify" / "admin-2026-10.introspection.json.gz"


@pytest.fixture(scope="module")
def introspection():
    return read_introspection(SPEC)


@pytest.fixture(scope="module")
def real_schema(introspection):
    return build_client_schema(introspection["data"])


@pytest.fixture(scope="module")
def raw_types(introspection) -> dict[str, dict[str, Any]]:
    """The introspection's types by name, as Shopify wrote them (``isDeprecated`` included)."""
    return {t["name"]: t for t in introspection["data"]["__schema"]["types"]}


def deprecated_uses(schema, raw_types, text: str) -> list[str]:
    """Every field, argument, input field and enum literal in ``text`` whose introspection entry
    says ``isDeprecated: true``. graphql-core finds the types; the verdict is read from the raw
    introspection JSON. (graphql-core 3.2's own NoDeprecatedCustomRule crashes on a schema
    built from introspection, which has no AST nodes.)"""
    info = TypeInfo(schema)
    found: list[str] = []

    def entry(type_name: str, key: str, name: str) -> dict[str, Any]:
        items = raw_types[type_name].get(key) or []
        return next(i for i in items if i["name"] == name)

    class Collect(Visitor):
        def enter_field(self, node, *_):
            parent = info.get_parent_type()
            if parent is None or node.name.value.startswith("__"):
                return
            if entry(parent.name, "fields", node.name.value)["isDeprecated"]:
                found.append(f"{parent.name}.{node.name.value}")

        def enter_argument(self, node, *_):
            parent, field = info.get_parent_type(), info.get_field_def()
            if parent is None or field is None:
                return
            field_name = next(n for n, f in parent.fields.items() if f is field)
            args = entry(parent.name, "fields", field_name)["args"]
            arg = next(a for a in args if a["name"] == node.name.value)
            if arg["isDeprecated"]:
                found.append(f"{parent.name}.{field_name}({node.name.value}:)")

        def enter_object_field(self, node, *_):
            parent = get_named_type(info.get_parent_input_type())
            if (
                isinstance(parent, GraphQLInputObjectType)
                and entry(parent.name, "inputFields", node.name.value)["isDeprecated"]
            ):
                found.append(f"{parent.name}.{node.name.value}")

        def enter_enum_value(self, node, *_):
            enum = get_named_type(info.get_input_type())
            if (
                isinstance(enum, GraphQLEnumType)
                and entry(enum.name, "enumValues", node.value)["isDeprecated"]
            ):
                found.append(f"{enum.name}.{node.value}")

    visit(parse(text), TypeInfoVisitor(info, Collect()))
    return found


def enum_values(raw_types, name: str) -> dict[str, bool]:
    """An enum's values → isDeprecated."""
    return {v["name"]: v["isDeprecated"] for v in raw_types[name]["enumValues"]}


def test_the_documents_are_found():
    assert {"orders_find", "order_get", "order_cancel"} <= set(operation_names())
    assert "OrderFields" in fragments()
    assert "fragment OrderFields on Order" in document("order_get")


def test_one_version_everywhere(introspection):
    # the adapter's default, the setting's default, the emulator's schema and the test schema
    assert ADAPTER_VERSION == EMULATOR_VERSION == setting("shopify_api_version").default
    assert ADAPTER_VERSION == "2026-10" and "2026-10" in SPEC.name


@pytest.mark.parametrize("name", operation_names())
def test_document_validates_against_the_real_schema(real_schema, name):
    errors = validate(real_schema, parse(document(name)))
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("name", operation_names())
def test_document_uses_nothing_deprecated(real_schema, raw_types, name):
    assert deprecated_uses(real_schema, raw_types, document(name)) == []


def test_the_deprecation_check_catches_what_2026_10_deprecates(real_schema, raw_types):
    # the control: the same check flags the old orderCancel argument, Customer.email and a
    # deprecated enum literal
    old_cancel = (
        'mutation { orderCancel(orderId: "gid://shopify/Order/1", reason: CUSTOMER, refund: true,'
        " restock: false) { job { id } userErrors { message } } }"
    )
    assert deprecated_uses(real_schema, raw_types, old_cancel) == [
        "Mutation.orderCancel(refund:)",
        "OrderCancelPayload.userErrors",
    ]
    email = "query { orders(first: 1) { nodes { customer { email } } } }"
    assert deprecated_uses(real_schema, raw_types, email) == ["Customer.email"]


def test_order_cancel_uses_refund_method(real_schema):
    cancel = real_schema.mutation_type.fields["orderCancel"]
    assert cancel.args["refund"].deprecation_reason  # deprecated since 2025-07
    text = document("order_cancel")
    assert "refundMethod: $refundMethod" in text and "refund: $refund\n" not in text
    assert "$refundMethod: OrderCancelRefundMethodInput!" in text


def test_validation_catches_a_wrong_field(real_schema):
    # the control: the same check rejects a plausible mistake
    bad = "query { orders(first: 1) { nodes { customer { emailAddress } } } }"
    assert validate(real_schema, parse(bad))


def test_enum_values_we_send_exist_and_are_current(raw_types):
    reasons = enum_values(raw_types, "OrderCancelReason")
    assert set(CANCEL_REASONS) <= set(reasons)
    assert not any(reasons[r] for r in CANCEL_REASONS)


def test_statuses_the_code_names_exist_in_2026_10(raw_types):
    # A misspelt status would silently never match; a status Shopify adds is shown as it comes.
    display = enum_values(raw_types, "FulfillmentDisplayStatus")
    named = wismo.DELIVERED | wismo.PROBLEMS | set(wismo._PHRASES)
    assert named <= set(display), named - set(display)
    financial = enum_values(raw_types, "OrderDisplayFinancialStatus")
    assert set(PAID_STATUSES) <= set(financial)
    fulfillment = enum_values(raw_types, "OrderDisplayFulfillmentStatus")
    assert "FULFILLMENT_NOT_REQUIRED" in fulfillment  # new in 2026-10
    assert {"UNFULFILLED", "PARTIALLY_FULFILLED", "FULFILLED"} | wismo.NOTHING_TO_SHIP <= set(
        fulfillment
    )


def test_emulator_schema_slice_is_generated_from_the_real_schema(introspection):
    assert SDL_PATH.read_text() == subset_sdl(introspection), (
        "regenerate: python -m connector.devkit.sandbox.shopify_schema " + str(SPEC)
    )


@pytest.mark.parametrize("name", operation_names())
def test_emulator_serves_every_document(name):
    assert validate(load_schema(), parse(document(name))) == []
