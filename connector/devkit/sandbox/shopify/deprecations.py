"""The deprecated parts of the schema a request uses, for the emulator's
``X-Shopify-API-Deprecated-Reason`` header.

Since 2025-04 Shopify answers a request that uses deprecated GraphQL fields with that header
listing them (``Shop.products, Shop.productVariants``; "The X-Shopify-API-Deprecated-Reason HTTP
header will return actual GraphQL deprecations if any",
https://shopify.dev/changelog/graphql-return-actual-deprecation-reasons). The emulator names
fields as ``Type.field``; for arguments, input fields and enum values, which that changelog shows
no example of, it uses ``Type.field.argument``, ``Input.field`` and ``Enum.VALUE``.
"""

from __future__ import annotations

from typing import Any


def deprecated_usage(
    schema: Any, document: Any, variables: dict[str, Any] | None = None
) -> list[str]:
    """Names of the deprecated fields, arguments, input fields and enum values (literal or in a
    variable of an enum type) that ``document`` uses, in the order first seen."""
    from graphql import (
        GraphQLEnumType,
        GraphQLInputObjectType,
        TypeInfo,
        TypeInfoVisitor,
        Visitor,
        get_named_type,
        visit,
    )

    found: list[str] = []
    info = TypeInfo(schema)

    def note(name: str) -> None:
        if name not in found:
            found.append(name)

    class Collect(Visitor):
        def enter_field(self, node, *_):
            parent, field = info.get_parent_type(), info.get_field_def()
            if parent is not None and field is not None and field.deprecation_reason:
                note(f"{parent.name}.{node.name.value}")

        def enter_argument(self, node, *_):
            parent, field, arg = info.get_parent_type(), info.get_field_def(), info.get_argument()
            if parent is None or field is None or arg is None:
                return
            if getattr(arg, "deprecation_reason", None):
                note(f"{parent.name}.{_field_name(parent, field)}.{node.name.value}")

        def enter_object_field(self, node, *_):
            parent = get_named_type(info.get_parent_input_type())
            if isinstance(parent, GraphQLInputObjectType):
                field = parent.fields.get(node.name.value)
                if field is not None and getattr(field, "deprecation_reason", None):
                    note(f"{parent.name}.{node.name.value}")

        def enter_enum_value(self, node, *_):
            enum = get_named_type(info.get_input_type())
            if isinstance(enum, GraphQLEnumType):
                value = enum.values.get(node.value)
                if value is not None and value.deprecation_reason:
                    note(f"{enum.name}.{node.value}")

        def enter_variable_definition(self, node, *_):
            named = get_named_type(info.get_input_type())
            given = (variables or {}).get(node.variable.name.value)
            if isinstance(named, GraphQLEnumType) and isinstance(given, str):
                value = named.values.get(given)
                if value is not None and value.deprecation_reason:
                    note(f"{named.name}.{given}")

    visit(document, TypeInfoVisitor(info, Collect()))
    return found


def _field_name(parent: Any, field: Any) -> str:
    return next((name for name, f in parent.fields.items() if f is field), "?")


__all__ = ["deprecated_usage"]
