"""Every GraphQL document Deskguard sends validates against Shopify's 2025-01 introspection
schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_client_schema, parse, validate
from graphql.validation import NoDeprecatedCustomRule

from connector.commerce.graphql import document, fragments, operation_names
from connector.devkit.sandbox.shopify_schema import (
    SDL_PATH,
    load_schema,
    read_introspection,
    subset_sdl,
)

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "specs" / "shopify-admin-2025-01.introspection.json.gz"
needs_spec = pytest.mark.skipif(
    not SPEC.is_file(), reason=f"Shopify introspection spec not found at {SPEC}"
)


@pytest.fixture(scope="module")
def introspection():
    return read_introspection(SPEC)


@pytest.fixture(scope="module")
def real_schema(introspection):
    return build_client_schema(introspection["data"])


def test_the_documents_are_found():
    assert {"orders_find", "order_get", "order_cancel"} <= set(operation_names())
    assert "OrderFields" in fragments()
    assert "fragment OrderFields on Order" in document("order_get")


@needs_spec
@pytest.mark.parametrize("name", operation_names())
def test_document_validates_against_the_real_schema(real_schema, name):
    errors = validate(real_schema, parse(document(name)))
    assert errors == [], [e.message for e in errors]


@needs_spec
@pytest.mark.parametrize("name", operation_names())
def test_document_uses_no_deprecated_field(real_schema, name):
    errors = validate(real_schema, parse(document(name)), [NoDeprecatedCustomRule])
    assert errors == [], [e.message for e in errors]


@needs_spec
def test_validation_catches_a_wrong_field(real_schema):
    # the control: the same check rejects a plausible mistake (this field is from a later version)
    bad = (
        "query { orders(first: 1) { nodes { customer { defaultEmailAddress { emailAddress } } } } }"
    )
    assert validate(real_schema, parse(bad))


@needs_spec
def test_emulator_schema_slice_is_generated_from_the_real_schema(introspection):
    assert SDL_PATH.read_text() == subset_sdl(introspection), (
        "regenerate: python -m connector.devkit.sandbox.shopify_schema " + str(SPEC)
    )


@pytest.mark.parametrize("name", operation_names())
def test_emulator_serves_every_document(name):
    assert validate(load_schema(), parse(document(name))) == []
