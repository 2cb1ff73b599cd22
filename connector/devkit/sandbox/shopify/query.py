"""Query cost and search syntax for the Shopify sandbox.

``query_cost`` prices a document the way Shopify documents it (approximately), so the emulator's
leaky bucket behaves like Shopify's; ``parse_search`` / ``order_matches`` implement the subset of
Shopify's search syntax the adapter sends (``name:#1001``, ``email:jane@example.com``).
"""

from __future__ import annotations

import re
from typing import Any

MUTATION_COST = 10


# --- query cost (Shopify's documented rules, approximated) -----------------------------------
def query_cost(schema, document, operation_name: str | None, variables: dict[str, Any]) -> int:
    """Scalars and enums cost 0, objects 1, connections 2 + first × (cost of one node), other
    lists with ``first`` first × (cost of one item); a mutation adds 10. Shopify computes the real
    figure server-side; this keeps the bucket behaving like one for the emulator's documents."""
    from graphql import (
        FieldNode,
        FragmentDefinitionNode,
        FragmentSpreadNode,
        InlineFragmentNode,
        OperationDefinitionNode,
        get_named_type,
        is_leaf_type,
        is_list_type,
        is_non_null_type,
        value_from_ast_untyped,
    )

    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    op = next(
        (o for o in ops if operation_name is None or (o.name and o.name.value == operation_name)),
        None,
    )
    if op is None:
        return 0

    def arg(node: FieldNode, name: str) -> Any:
        for a in node.arguments or ():
            if a.name.value == name:
                return value_from_ast_untyped(a.value, variables)
        return None

    def selections(selection_set, parent_type):
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                yield sel, parent_type
            elif isinstance(sel, InlineFragmentNode):
                yield from selections(sel.selection_set, parent_type)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
                yield from selections(fragments[sel.name.value].selection_set, parent_type)

    def cost(selection_set, parent_type) -> int:
        total = 0
        for node, ptype in selections(selection_set, parent_type):
            fdef = ptype.fields.get(node.name.value) if hasattr(ptype, "fields") else None
            if fdef is None:
                continue
            named = get_named_type(fdef.type)
            if is_leaf_type(named):
                continue
            size = int(arg(node, "first") or arg(node, "last") or 1)
            if named.name.endswith("Connection"):
                # `nodes` / `edges` carry the objects; one object costs 1 plus its own fields
                per_node = 0
                for child, _ in selections(node.selection_set, named):
                    if child.name.value in ("nodes", "edges"):
                        child_type = get_named_type(named.fields[child.name.value].type)
                        per_node += 1 + cost(child.selection_set, child_type)
                total += 2 + size * per_node
            else:
                ftype = fdef.type.of_type if is_non_null_type(fdef.type) else fdef.type
                total += (size if is_list_type(ftype) else 1) * (
                    1 + cost(node.selection_set, named)
                )
        return total

    root = schema.mutation_type if op.operation.value == "mutation" else schema.query_type
    return cost(op.selection_set, root) + (MUTATION_COST if op.operation.value == "mutation" else 0)


# --- search syntax ------------------------------------------------------------------------
_TERM = re.compile(r'(?:(\w+):)?("(?:[^"\\]|\\.)*"|\S+)')


def parse_search(query: str | None) -> list[tuple[str | None, str]]:
    """Shopify search syntax, the subset we need: ``key:value`` terms (values may be quoted)."""
    terms = []
    for key, raw in _TERM.findall(query or ""):
        value = raw
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            value = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if raw.upper() == "AND" and not key:
            continue
        terms.append((key.lower() or None, value))
    return terms


def order_matches(order, terms: list[tuple[str | None, str]]) -> bool:
    for key, value in terms:
        v = value.lower()
        if key == "name":
            if order.name.lower() != ("#" + v.lstrip("#")):
                return False
        elif key == "email":
            if (order.email or "").lower() != v:
                return False
        elif key == "customer_id":
            if str(order.customer_id) != value:
                return False
        elif key is None and v not in order.name.lower() and v not in (order.email or "").lower():
            return False  # free text matches the name or the email
        # other filter keys are ignored (Shopify also ignores unknown search fields)
    return True
