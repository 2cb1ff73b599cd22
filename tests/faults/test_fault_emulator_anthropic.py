"""The Anthropic emulator behaves like the Messages API where that bit us: models refuse the
sampling parameters they refuse, answers stop at ``max_tokens``, and a refusal is a 200 with
``stop_reason: refusal``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from adapters.anthropic import AnthropicClient

pytest_plugins = ["anthropic_support"]


def _post_messages(sandbox, body):
    req = urllib.request.Request(
        f"{sandbox.url}/v1/messages",
        data=json.dumps(body).encode(),
        headers={
            "x-api-key": sandbox.api_key,
            "anthropic-version": "2023-06-01",
            "content-type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


BASE = {"max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    "model, params, message",
    [
        ("claude-opus-4-7", {"temperature": 0.2}, "`temperature` is deprecated for this model."),
        ("claude-haiku-4-5", {"temperature": 0.2, "top_p": 0.9}, "cannot both be specified"),
    ],
)
def test_models_refuse_the_sampling_parameters_they_refuse(sandbox, model, params, message):
    status, body = _post_messages(sandbox, {**BASE, "model": model, **params})
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert message in body["error"]["message"]
    assert (
        _post_messages(sandbox, {**BASE, "model": "claude-haiku-4-5", "temperature": 0.2})[0] == 200
    )


def _client(sandbox):
    return AnthropicClient(
        api_key=sandbox.api_key, base_url=sandbox.url, timeout=5, connect_timeout=2, max_retries=0
    )


def test_an_answer_longer_than_max_tokens_stops_there(sandbox):
    sandbox.state.script_text("word " * 400)
    reply = _client(sandbox).create_message(
        model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.stop_reason == "max_tokens"
    assert reply.usage.output_tokens <= 10 and 0 < len(reply.text) <= 40


def test_a_refusal_is_a_200_with_no_content(sandbox):
    sandbox.state.refuse_next()
    reply = _client(sandbox).create_message(
        model="claude-haiku-4-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert (reply.stop_reason, reply.text, reply.tool_calls) == ("refusal", "", ())
