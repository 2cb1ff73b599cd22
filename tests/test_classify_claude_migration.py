"""Claude Haiku 5.5 and its migration guide: the default model and prices, requests without
sampling parameters or prefill, forced tool use refused → structured output (the same reading),
refusals handed to a person, answers cut at max_tokens, and the model-age warning of
`config check`. Real anthropic SDK over HTTP against the emulator."""

from __future__ import annotations

import dataclasses
import json
import math

import anthropic_support
import pytest
from shopify_support import shop, shop_server, shop_settings  # noqa: F401  (fixtures)
from zendesk_support import TENANT, sandbox, zendesk_config  # noqa: F401  (fixtures)

from adapters.anthropic import AnthropicClient
from connector.bootstrap import ensure_env_tenant
from connector.classify import claude_prompt
from connector.classify.claude import ClaudeClassifier, Prices, draft_reply
from connector.claude_models import Prices as ListPrices
from connector.claude_models import claude_model_warnings, forced_tool_use
from connector.db import migrate
from connector.domain import Reading, TicketText, Usage
from connector.pipeline.engine import process_ticket
from connector.pipeline.policy import set_category_modes
from connector.runtime import Runtime
from connector.settings import load_config

_server = anthropic_support._server  # one Anthropic sandbox per module
claude = anthropic_support.sandbox  # fresh state per test (named so: `sandbox` is Zendesk's)

TICKET = TicketText(
    subject="Where is my order?", body="Hi, order #1042 has not shipped yet. Tracking?", id="1042"
)
SAMPLING = ("temperature", "top_p", "top_k")


class FakeLocal:
    def classify(self, text: TicketText) -> Reading:
        return Reading(
            category="order_status",
            confidence=0.8,
            alternatives=(("order_status", 0.8), ("shipping_problem", 0.1)),
            sentiment="neutral",
            sentiment_score=0.0,
            urgency="normal",
            language="en",
            engine="local",
            model="fake-local",
        )


def engine(
    sb, model: str, *, max_tokens: int = 4096, structured: bool | None = None
) -> ClaudeClassifier:
    client = AnthropicClient(
        api_key=sb.api_key, base_url=sb.url, timeout=5.0, connect_timeout=2.0, max_retries=0
    )
    return ClaudeClassifier(
        client,
        fallback=FakeLocal,
        model=model,
        max_tokens=max_tokens,
        prices=Prices.from_config(load_config({})),
        structured=structured,
    )


def sent(sb) -> list[dict]:
    return [json.loads(r["body"]) | {"_status": r["status"]} for r in sb.state.recorded()]


def comparable(reading: Reading) -> dict:
    skip = {"usage", "cost_usd", "latency_ms", "model"}
    return {k: v for k, v in dataclasses.asdict(reading).items() if k not in skip}


# --- defaults -------------------------------------------------------------------------------
def test_the_default_model_is_haiku_5_5_with_its_list_prices():
    config = load_config({})
    assert config.claude_model == "claude-haiku-5-5"
    prices = Prices.from_config(config)
    assert (prices.input, prices.output, prices.cache_write, prices.cache_read) == (
        0.10,
        0.50,
        0.125,
        0.01,
    )
    # The cost of a reading is computed from these settings.
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_creation_input_tokens=1_000_000,
        cache_read_input_tokens=1_000_000,
    )
    assert prices.cost(usage) == pytest.approx(0.10 + 0.50 + 0.125 + 0.01)
    assert claude_model_warnings(config.claude_model, ListPrices(0.10, 0.50, 0.125, 0.01)) == []


# --- forced tool use → structured output ------------------------------------------------------
def test_haiku_5_5_is_read_through_structured_output_from_the_first_ticket(claude):
    reading = engine(claude, "claude-haiku-5-5").classify(TICKET)
    assert reading.engine == "claude" and reading.fallback_reason is None
    (body,) = sent(claude)
    assert body["_status"] == 200 and "tool_choice" not in body
    assert body["output_config"]["format"]["type"] == "json_schema"


def test_a_refused_forced_tool_switches_to_structured_output_for_good(claude):
    # A model whose behaviour is not in the table is asked with a forced tool call first.
    reader = engine(claude, "claude-haiku-5-5", structured=False)
    reading = reader.classify(TICKET)
    assert reading.engine == "claude" and reading.fallback_reason is None
    first, second = sent(claude)
    assert first["_status"] == 400 and first["tool_choice"]["type"] == "tool"
    assert second["_status"] == 200 and "tools" not in second and "tool_choice" not in second
    schema = second["output_config"]["format"]
    assert schema == {"type": "json_schema", "schema": claude_prompt.READING_OUTPUT_SCHEMA}
    assert "answer with its reading as JSON" in second["messages"][0]["content"]
    # Both calls' usage is what the reading cost; the switch holds for the next ticket.
    assert reading.usage is not None and reading.usage.input_tokens > 0
    reader.classify(TICKET)
    assert len(sent(claude)) == 3 and "output_config" in sent(claude)[2]


def test_every_request_follows_the_migration_guide(claude):
    reader = engine(claude, "claude-haiku-5-5", structured=False)
    reader.classify(TICKET)  # the refused forced call, then structured output
    claude.state.invalid_next(1)  # a correction turn too
    reader.classify(TICKET)
    engine(claude, "claude-haiku-4-5").classify(TICKET)  # forced tool use
    bodies = sent(claude)
    assert len(bodies) == 5
    for body in bodies:
        assert not set(SAMPLING) & set(body)  # no sampling parameters
        assert body["messages"][-1]["role"] == "user"  # no assistant prefill
        assert "thinking" not in body  # the model's default (adaptive)


def test_both_paths_produce_the_same_reading(claude):
    by_tool = engine(claude, "claude-haiku-4-5").classify(TICKET)
    by_schema = engine(claude, "claude-sonnet-5-5").classify(TICKET)
    assert by_tool.fallback_reason is None and by_schema.fallback_reason is None
    assert comparable(by_tool) == comparable(by_schema)
    bodies = sent(claude)
    assert "tool_choice" in bodies[0] and bodies[0]["_status"] == 200
    # Sonnet 5.5 is documented to refuse forced tool use: structured output at once.
    assert len(bodies) == 2 and "output_config" in bodies[1] and bodies[1]["_status"] == 200
    assert forced_tool_use("claude-sonnet-5-5") == "refused"


def test_invalid_structured_output_is_corrected_once_then_falls_back(claude):
    reader = engine(claude, "claude-sonnet-5-5")
    claude.state.invalid_next(1)
    assert reader.classify(TICKET).fallback_reason is None
    correction = sent(claude)[1]["messages"]
    assert [m["role"] for m in correction] == ["user", "assistant", "user"]
    assert "That reading was invalid" in correction[2]["content"]
    claude.state.reset()
    claude.state.invalid_next(2)
    reading = reader.classify(TICKET)
    assert reading.engine == "local" and reading.fallback_reason.startswith("invalid_output:")
    assert len(sent(claude)) == 2


# --- refusals ---------------------------------------------------------------------------------
def test_a_refused_reading_is_never_retried_and_goes_to_a_person(claude):
    reader = engine(claude, "claude-sonnet-5-5")
    claude.state.refuse_next(5, category="cyber")
    reading = reader.classify(TICKET)
    assert len(sent(claude)) == 1  # one call: the same request would be refused again
    assert reading.engine == "local" and reading.confidence == 0.0
    assert reading.alternatives[0] == ("order_status", 0.0)
    assert reading.fallback_reason == (
        "refused: Claude declined to read this ticket (stop_reason refusal, category cyber); "
        "a person must read it"
    )
    assert reading.reasons[0].startswith("Claude declined to read this ticket")
    assert reading.usage is not None  # what the refused call cost is still reported


def test_a_refused_draft_leaves_the_templates_to_the_pipeline(claude):
    drafter = engine(claude, "claude-haiku-5-5")
    claude.state.refuse_next(1)
    reading = FakeLocal().classify(TICKET)
    assert draft_reply(drafter, "acme", ticket_text=TICKET, reading=reading) is None


@pytest.fixture
def claude_rt(config, sandbox, shop, _server):  # noqa: F811
    runtime = Runtime(
        {
            **zendesk_config(config, sandbox),
            **shop_settings(shop),
            "classifier": "claude",
            "anthropic_base_url": _server.url,
            "anthropic_api_key": _server.api_key,
            "claude_max_retries": 0,
        }
    )
    migrate(runtime.db)
    ensure_env_tenant(runtime)
    yield runtime
    runtime.close()


def test_a_refused_ticket_escalates_end_to_end(claude_rt, sandbox, claude):  # noqa: F811
    set_category_modes(claude_rt.db, TENANT, {"*": "auto"}, actor="test", override_reason="e2e")
    claude.state.refuse_next(10)
    tid = sandbox.state.customer_writes(
        subject="Where is my order?",
        body="Hi, where is my order #1001? Thanks",
        name="Jane Doe",
        email="jane.doe@example.com",
    )["id"]
    outcome = process_ticket(claude_rt, TENANT, tid)
    assert outcome.outcome == "escalate"
    row = claude_rt.db.conn.execute(
        "SELECT rule FROM decisions WHERE ticket_id = ?", (tid,)
    ).fetchone()
    assert row[0] in ("low_confidence", "classifier_refused")
    assert all(r["status"] in (200, 400) for r in claude.state.recorded())


def test_a_refused_ticket_escalates_even_with_no_confidence_floor(claude_rt, sandbox, claude):  # noqa: F811
    """A tenant that set ``escalation.min_confidence`` to 0 still sends refused tickets to a
    person: the refusal has its own rule."""
    from connector.pipeline import policy

    set_category_modes(claude_rt.db, TENANT, {"*": "auto"}, actor="test", override_reason="e2e")
    policy.update(claude_rt.db, TENANT, {"escalation": {"min_confidence": 0}}, actor="test")
    claude.state.refuse_next(10)
    tid = sandbox.state.customer_writes(
        subject="Where is my order?",
        body="Hi, where is my order #1001? Thanks",
        name="Jane Doe",
        email="jane.doe@example.com",
    )["id"]
    assert process_ticket(claude_rt, TENANT, tid).outcome == "escalate"
    row = claude_rt.db.conn.execute(
        "SELECT rule FROM decisions WHERE ticket_id = ?", (tid,)
    ).fetchone()
    assert row[0] == "classifier_refused"


# --- answers cut at max_tokens ----------------------------------------------------------------
def test_a_cut_answer_is_retried_once_with_twice_the_limit(claude):
    full = engine(claude, "claude-haiku-4-5").classify(TICKET)
    assert full.usage is not None
    needed = full.usage.output_tokens
    claude.state.reset()
    reading = engine(claude, "claude-haiku-4-5", max_tokens=math.ceil(needed * 0.6)).classify(
        TICKET
    )
    assert reading.fallback_reason is None and reading.category == full.category
    caps = [b["max_tokens"] for b in sent(claude)]
    assert caps == [math.ceil(needed * 0.6), 2 * math.ceil(needed * 0.6)]


def test_an_answer_cut_twice_falls_back_with_a_clear_reason(claude):
    reading = engine(claude, "claude-haiku-4-5", max_tokens=16).classify(TICKET)
    assert reading.engine == "local"
    assert reading.fallback_reason == "truncated: the answer did not fit in max_tokens=32"
    assert [b["max_tokens"] for b in sent(claude)] == [16, 32]


# --- config check --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        ("claude-haiku-4-5", "legacy since October 2026"),
        ("claude-haiku-4-5-20251001", "Set it to claude-haiku-5-5"),
        ("claude-3-5-haiku-20241022", "retired since 19 February 2026: every request to it fails"),
        ("claude-3-haiku-20240307", "Set it to claude-haiku-5-5"),
        ("claude-sonnet-4-20250514", "Set it to claude-sonnet-5-5"),
        ("claude-haiku-5.5", "is not a Claude model Deskguard knows"),
    ],
)
def test_config_check_warns_about_an_old_or_unknown_model(model, fragment):
    warnings = claude_model_warnings(model)
    assert len(warnings) == 1 and fragment in warnings[0]
    assert warnings[0].startswith(f"DESKGUARD_CLAUDE_MODEL={model}")


def test_config_check_warns_when_prices_do_not_match_the_model():
    (warning,) = claude_model_warnings("claude-haiku-5-5", ListPrices(1.0, 5.0, 1.25, 0.10))
    assert "differ from the list prices of claude-haiku-5-5" in warning
    assert claude_model_warnings("claude-sonnet-5-5", ListPrices(1.0, 5.0, 1.25, 0.10)) == []


def test_config_check_reports_the_model_warning():
    from connector.settings import config_warnings

    config = load_config(
        {
            "claude_model": "claude-haiku-4-5",
            "claude_price_input_per_mtok": "1.00",
            "claude_price_output_per_mtok": "5.00",
            "claude_price_cache_write_per_mtok": "1.25",
            "claude_price_cache_read_per_mtok": "0.10",
        }
    )
    found = [w for w in config_warnings(config) if "DESKGUARD_CLAUDE" in w]
    assert len(found) == 1 and "legacy" in found[0] and "claude-haiku-5-5" in found[0]
    assert not [w for w in config_warnings(load_config({})) if "DESKGUARD_CLAUDE" in w]
