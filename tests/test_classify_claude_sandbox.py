"""The Anthropic Messages API emulator: wire format, auth, validation, caching, failure switches."""

from __future__ import annotations

import json

import pytest

from connector.classify.claude import validate_reading
from connector.classify.claude_prompt import READING_TOOL
from connector.devkit.sandbox.anthropic import (
    DEMO_API_KEY,
    INVALID_READING,
    AnthropicState,
    create_app,
    reading_input,
)

HEADERS = {"x-api-key": DEMO_API_KEY, "anthropic-version": "2023-06-01"}
BIG_SYSTEM = [{"type": "text", "text": "rules " * 4000, "cache_control": {"type": "ephemeral"}}]


def message(**extra) -> dict:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,  # a forced reading is ~150 tokens; the emulator truncates at the cap
        "messages": [
            {
                "role": "user",
                "content": "<ticket><subject>Refund</subject><body>money back for #1001"
                "</body></ticket>",
            }
        ],
        **extra,
    }


@pytest.fixture
def state():
    return AnthropicState()


@pytest.fixture
def api(state):
    return create_app(state).test_client()


def test_wrong_key_is_401_in_the_api_error_shape(api):
    r = api.post("/v1/messages", json=message(), headers={**HEADERS, "x-api-key": "sk-ant-nope"})
    assert r.status_code == 401
    assert r.json["type"] == "error"
    assert r.json["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
    assert (
        r.headers["request-id"].startswith("req_")
        and r.json["request_id"] == r.headers["request-id"]
    )


def test_bearer_auth_is_accepted(api):
    r = api.post(
        "/v1/messages",
        json=message(),
        headers={"Authorization": f"Bearer {DEMO_API_KEY}", "anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "fragment"),
    [
        (message(), {"x-api-key": DEMO_API_KEY}, "anthropic-version"),
        (message(max_tokens=0), HEADERS, "max_tokens"),
        (message(bogus=1), HEADERS, "bogus"),
        (message(stream=True), HEADERS, "stream"),
        ({**message(), "messages": []}, HEADERS, "messages"),
        (
            {**message(), "messages": [{"role": "assistant", "content": "hi"}]},
            HEADERS,
            "first message",
        ),
        (
            message(tools=[READING_TOOL], tool_choice={"type": "tool", "name": "other_tool"}),
            HEADERS,
            "other_tool",
        ),
        (message(tool_choice={"type": "any"}), HEADERS, "requires tools"),
        (message(tools=[{"name": "x"}]), HEADERS, "input_schema"),
    ],
)
def test_invalid_requests_are_400(api, body, headers, fragment):
    r = api.post("/v1/messages", json=body, headers=headers)
    assert r.status_code == 400
    assert (
        r.json["error"]["type"] == "invalid_request_error"
        and fragment in r.json["error"]["message"]
    )


def test_forced_tool_use_answers_a_valid_reading(api):
    r = api.post(
        "/v1/messages",
        headers=HEADERS,
        json=message(tools=[READING_TOOL], tool_choice={"type": "tool", "name": "record_reading"}),
    )
    assert r.status_code == 200
    data = r.json
    assert (
        data["type"] == "message"
        and data["role"] == "assistant"
        and data["stop_reason"] == "tool_use"
    )
    (block,) = data["content"]
    assert (
        block["type"] == "tool_use"
        and block["name"] == "record_reading"
        and block["id"].startswith("toolu_")
    )
    assert validate_reading(block["input"]) == []
    assert set(data["usage"]) >= {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }


def test_sandbox_readings_always_fit_the_schema():
    for subject, body in [
        ("", ""),
        ("Hallo", "Wo ist meine Bestellung #1001?"),
        ("x", "asdf qwerty"),
        ("Refund", "I want my money back, my lawyer will call you"),
    ]:
        assert validate_reading(reading_input(subject, body)) == []


def test_invalid_switch_breaks_the_schema_then_recovers(api, state):
    assert len(validate_reading(INVALID_READING)) >= 3
    state.invalid_next(1)
    forced = message(tools=[READING_TOOL], tool_choice={"type": "tool", "name": "record_reading"})
    first = api.post("/v1/messages", json=forced, headers=HEADERS).json["content"][0]["input"]
    second = api.post("/v1/messages", json=forced, headers=HEADERS).json["content"][0]["input"]
    assert validate_reading(first) and validate_reading(second) == []


def test_text_reply_without_tools_and_scripted_text(api, state):
    r = api.post(
        "/v1/messages",
        headers=HEADERS,
        json={
            **message(),
            "messages": [
                {
                    "role": "user",
                    "content": '<reading category="refund"/>'
                    "<ticket><body>Hi [NAME_1]</body></ticket>",
                }
            ],
        },
    )
    assert r.json["stop_reason"] == "end_turn" and r.json["content"][0]["type"] == "text"
    assert r.json["content"][0]["text"].startswith("Hello [NAME_1],")
    state.script_text("exactly this")
    assert (
        api.post("/v1/messages", json=message(), headers=HEADERS).json["content"][0]["text"]
        == "exactly this"
    )


@pytest.mark.parametrize(
    ("status", "kind"), [(429, "rate_limit_error"), (529, "overloaded_error"), (500, "api_error")]
)
def test_failure_switch(api, state, status, kind):
    state.fail(status, times=2, retry_after=1.5)
    for _ in range(2):
        r = api.post("/v1/messages", json=message(), headers=HEADERS)
        assert r.status_code == status and r.json["error"]["type"] == kind
        assert r.headers["retry-after"] == "2" and r.headers["retry-after-ms"] == "1500"
    assert api.post("/v1/messages", json=message(), headers=HEADERS).status_code == 200


def test_cache_write_then_read_then_expiry(api, state):
    now = [1000.0]
    state.clock = lambda: now[0]
    usages = []
    for advance in (0, 10, 299, 301):
        now[0] += advance
        usages.append(
            api.post("/v1/messages", json=message(system=BIG_SYSTEM), headers=HEADERS).json["usage"]
        )
    written = usages[0]["cache_creation_input_tokens"]
    assert written > 4096 and usages[0]["cache_read_input_tokens"] == 0
    assert [u["cache_read_input_tokens"] for u in usages[1:3]] == [
        written,
        written,
    ]  # reads refresh the TTL
    assert (
        usages[3]["cache_creation_input_tokens"] == written
    )  # more than 5 minutes after the last read
    assert usages[0]["input_tokens"] == usages[1]["input_tokens"]  # the uncached tail


def test_one_hour_ttl(api, state):
    now = [0.0]
    state.clock = lambda: now[0]
    system = [{**BIG_SYSTEM[0], "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    api.post("/v1/messages", json=message(system=system), headers=HEADERS)
    now[0] += 3000
    assert (
        api.post("/v1/messages", json=message(system=system), headers=HEADERS).json["usage"][
            "cache_read_input_tokens"
        ]
        > 0
    )


def test_a_prefix_below_the_model_minimum_is_not_cached(api):
    short = [
        {"type": "text", "text": "rules " * 2000, "cache_control": {"type": "ephemeral"}}
    ]  # ~3000 tokens
    for _ in range(2):
        usage = api.post("/v1/messages", json=message(system=short), headers=HEADERS).json["usage"]
        assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0
    sonnet = api.post(
        "/v1/messages", json=message(system=short, model="claude-sonnet-4-5"), headers=HEADERS
    )
    assert sonnet.json["usage"]["cache_creation_input_tokens"] > 0  # Sonnet 4.5's minimum is 1024


def test_top_level_cache_control_caches_up_to_the_last_block(api):
    body = message(system="rules " * 4000, cache_control={"type": "ephemeral"})
    first = api.post("/v1/messages", json=body, headers=HEADERS).json["usage"]
    second = api.post("/v1/messages", json=body, headers=HEADERS).json["usage"]
    assert first["cache_creation_input_tokens"] > 0 and second["cache_read_input_tokens"] > 0


def test_cache_is_per_key(api, state):
    state.add_key("sk-ant-other")
    api.post("/v1/messages", json=message(system=BIG_SYSTEM), headers=HEADERS)
    other = api.post(
        "/v1/messages",
        json=message(system=BIG_SYSTEM),
        headers={**HEADERS, "x-api-key": "sk-ant-other"},
    )
    assert other.json["usage"]["cache_creation_input_tokens"] > 0


def test_control_plane_endpoints(api, state):
    assert api.post(
        "/_sandbox/fail", json={"status": 429, "times": 1, "retry_after": 0.5}
    ).json == {"ok": True}
    assert api.post("/v1/messages", json=message(), headers=HEADERS).status_code == 429
    api.post("/_sandbox/invalid", json={"times": 1})
    assert state.invalid_outputs == 1
    api.post("/_sandbox/script", json={"texts": ["a"]})
    assert (
        api.post("/v1/messages", json=message(), headers=HEADERS).json["content"][0]["text"] == "a"
    )
    api.post("/_sandbox/delay", json={"seconds": 0})
    recorded = api.get("/_sandbox/requests").json["requests"]
    assert [r["status"] for r in recorded] == [429, 200]
    assert recorded[0]["body"].startswith("{")  # the raw body as received
    api.post("/_sandbox/reset")
    assert state.recorded() == [] and state.invalid_outputs == 0


def test_unknown_path_is_404_not_found_error(api):
    r = api.get("/v1/models", headers=HEADERS)
    assert r.status_code == 404 and r.json["error"]["type"] == "not_found_error"


def test_a_429_always_says_when_to_retry(api, state):
    state.fail(429)
    r = api.post("/v1/messages", json=message(), headers=HEADERS)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"


# --- the Claude 5.5 generation's rules (docs/vendors/anthropic.md) ------------------------------
FORCED = {"tools": [READING_TOOL], "tool_choice": {"type": "tool", "name": "record_reading"}}


@pytest.mark.parametrize("param", ["temperature", "top_p", "top_k"])
def test_haiku_5_5_rejects_sampling_parameters(api, param):
    reply = api.post(
        "/v1/messages", json=message(model="claude-haiku-5-5", **{param: 0.5}), headers=HEADERS
    )
    assert reply.status_code == 400 and param in reply.get_json()["error"]["message"]


def test_haiku_5_5_rejects_an_assistant_prefill(api):
    body = message(model="claude-haiku-5-5")
    body["messages"].append({"role": "assistant", "content": "{"})
    reply = api.post("/v1/messages", json=body, headers=HEADERS)
    assert reply.status_code == 400 and "prefill" in reply.get_json()["error"]["message"]
    body["model"] = "claude-haiku-4-5"  # earlier models still continue a prefill
    assert api.post("/v1/messages", json=body, headers=HEADERS).status_code == 200


def test_forced_tool_use_is_refused_while_the_model_thinks(api):
    reply = api.post(
        "/v1/messages", json=message(model="claude-haiku-5-5", **FORCED), headers=HEADERS
    )
    assert reply.status_code == 400
    error = reply.get_json()["error"]
    assert error == {
        "type": "invalid_request_error",
        "message": "Thinking may not be enabled when tool_choice forces tool use.",
    }
    # With thinking turned off, Haiku 5.5 takes the forced call.
    off = message(model="claude-haiku-5-5", thinking={"type": "disabled"}, **FORCED)
    reply = api.post("/v1/messages", json=off, headers=HEADERS)
    assert reply.status_code == 200 and reply.get_json()["stop_reason"] == "tool_use"
    # Haiku 4.5 does not think unless asked.
    assert api.post("/v1/messages", json=message(**FORCED), headers=HEADERS).status_code == 200
    on = message(thinking={"type": "enabled", "budget_tokens": 1024}, **FORCED)
    assert api.post("/v1/messages", json=on, headers=HEADERS).status_code == 400


def test_sonnet_5_5_refuses_forced_tool_use_and_disabled_thinking(api):
    reply = api.post(
        "/v1/messages", json=message(model="claude-sonnet-5-5", **FORCED), headers=HEADERS
    )
    assert reply.status_code == 400 and "tool_choice" in reply.get_json()["error"]["message"]
    off = message(model="claude-sonnet-5-5", thinking={"type": "disabled"})
    assert api.post("/v1/messages", json=off, headers=HEADERS).status_code == 400


def test_structured_output_answers_json_after_a_thinking_block(api):
    from connector.classify.claude_prompt import READING_OUTPUT_SCHEMA

    config = {"format": {"type": "json_schema", "schema": READING_OUTPUT_SCHEMA}}
    reply = api.post(
        "/v1/messages",
        json=message(model="claude-haiku-5-5", output_config=config),
        headers=HEADERS,
    ).get_json()
    assert [b["type"] for b in reply["content"]] == ["thinking", "text"]
    assert reply["content"][0]["thinking"] == ""  # omitted by default
    reading = json.loads(reply["content"][1]["text"])
    assert reading["category"] == "refund" and validate_reading(reading) == []
    assert reply["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "object", "properties": {}}, "additionalProperties"),
        (
            {
                "type": "object",
                "properties": {"x": {"type": "number", "minimum": 0}},
                "additionalProperties": False,
            },
            "'minimum' is not supported",
        ),
    ],
)
def test_structured_output_schemas_outside_the_subset_are_400(api, schema, fragment):
    config = {"format": {"type": "json_schema", "schema": schema}}
    reply = api.post("/v1/messages", json=message(output_config=config), headers=HEADERS)
    assert reply.status_code == 400 and fragment in reply.get_json()["error"]["message"]


def test_a_refusal_is_a_200_with_its_category(api, state):
    state.refuse_next(1, category="bio")
    reply = api.post("/v1/messages", json=message(), headers=HEADERS).get_json()
    assert reply["stop_reason"] == "refusal" and reply["content"] == []
    assert reply["stop_details"] == {"type": "refusal", "category": "bio", "explanation": None}
    after = api.post("/v1/messages", json=message(), headers=HEADERS).get_json()
    assert after["stop_reason"] == "end_turn" and after["stop_details"] is None
