"""The Shopify sandbox speaks the wire format: auth, GraphQL validation, cost extension,
pagination."""

from __future__ import annotations

import requests
import shopify_support
from shopify_support import TOKEN

from connector.commerce.graphql import document

shop_server = (
    shopify_support.shop_server
)  # fixtures: one sandbox server per process, a fresh shop per test
shop = shopify_support.shop


def gql(
    shop, query: str, variables: dict | None = None, *, token: str = TOKEN, version: str = "2026-10"
):
    return requests.post(
        f"{shop.url}/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": token},
        timeout=5,
    )


def test_token_required(shop):
    response = gql(shop, "{ orders(first: 1) { nodes { name } } }", token="nope")
    assert (
        response.status_code == 401
        and "Invalid API key or access token" in response.json()["errors"]
    )
    assert (
        gql(shop, "{ orders(first: 1) { nodes { name } } }", version="2025-02").status_code == 404
    )


def test_invalid_documents_fail_like_shopify(shop):
    body = gql(shop, "{ orders(first: 1) { nodes { nome } } }").json()
    assert "data" not in body and "nome" in body["errors"][0]["message"]
    body = gql(shop, "{ orders(first: 1) { nodes { name }").json()
    assert "Syntax Error" in body["errors"][0]["message"]
    body = gql(shop, "{ orders { nodes { name } } }").json()
    assert body["errors"][0]["message"] == "you must provide one of first or last"


def test_cost_extension_and_bucket(shop):
    body = gql(
        shop, document("orders_find"), {"query": "email:jane.doe@example.com", "first": 10}
    ).json()
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 472 and cost["actualQueryCost"] == 472
    status = cost["throttleStatus"]
    assert status["maximumAvailable"] == 2000.0 and status["restoreRate"] == 1000.0
    assert status["currentlyAvailable"] <= 2000 - 472 + 50  # refilled a little since


def test_search_sort_and_pagination(shop):
    query = (
        "{ orders(first: 2, sortKey: CREATED_AT, reverse: true, "
        'query: "email:tom.becker@example.com") '
        "{ nodes { name } pageInfo { hasNextPage endCursor } } }"
    )
    page = gql(shop, query).json()["data"]["orders"]
    assert [n["name"] for n in page["nodes"]] == ["#1011", "#1010"] and page["pageInfo"][
        "hasNextPage"
    ]
    after = query.replace("first: 2,", f'first: 2, after: "{page["pageInfo"]["endCursor"]}",')
    page2 = gql(shop, after).json()["data"]["orders"]
    assert [n["name"] for n in page2["nodes"]] == ["#1007"] and not page2["pageInfo"]["hasNextPage"]
    both = gql(shop, '{ orders(first: 5, query: "name:1001") { nodes { name } } }').json()["data"][
        "orders"
    ]
    assert [n["name"] for n in both["nodes"]] == ["#1001"]
