"""Engine selection, the "classifier" service, the stored Anthropic key and the drafting seam."""

from __future__ import annotations

import anthropic_support
import pytest

from connector import audit
from connector.bootstrap import ensure_env_tenant
from connector.classify import service as engine
from connector.classify.claude import ClaudeClassifier, DraftReply
from connector.classify.claude import draft_reply as pipeline_draft_reply
from connector.domain import CATEGORIES, Reading, TicketText
from connector.errors import ConfigError
from connector.tenants import set_setting

_server = (
    anthropic_support._server
)  # fixtures: one Anthropic sandbox per module, fresh state per test
sandbox = anthropic_support.sandbox

TENANT = "acme"
TICKET = TicketText(subject="Where is my order?", body="Order #1042, any news?", id="7")
READING = Reading(
    category="order_status",
    confidence=0.9,
    alternatives=(("order_status", 0.9),),
    sentiment="neutral",
    sentiment_score=0.0,
    urgency="normal",
    language="en",
)


@pytest.fixture
def config(config, _server):
    return {
        **config,
        "classifier": "claude",
        "anthropic_api_key": _server.api_key,
        "anthropic_base_url": _server.url,
        "claude_max_retries": 0,
    }


def secret_events(runtime) -> list[dict]:
    return [r for r in audit.rows(runtime.db, tenant_id=TENANT) if r["kind"] == "secret.stored"]


def test_the_env_key_is_stored_encrypted_once(runtime, sandbox):
    assert engine.anthropic_key(runtime, TENANT) == sandbox.api_key
    (ciphertext,) = runtime.db.conn.execute(
        "SELECT ciphertext FROM secrets WHERE tenant_id = ? AND name = 'anthropic_api_key'",
        (TENANT,),
    ).fetchone()
    assert sandbox.api_key not in ciphertext
    before = len(secret_events(runtime))
    ensure_env_tenant(runtime)  # a restart with the same key stores nothing new
    assert len(secret_events(runtime)) == before == 1


def test_the_classifier_service_reads_with_claude_through_the_sdk(runtime, sandbox):
    service = runtime.services(TENANT).classifier
    assert service.engine == "claude"
    reading = service.classify(TICKET)
    assert reading.engine == "claude" and reading.fallback_reason is None
    assert reading.model == "claude-haiku-5-5"  # the default model
    # Haiku 5.5 thinks by default, which a forced tool call cannot combine with: structured
    # output from the first ticket.
    (request,) = sandbox.state.recorded()
    assert request["status"] == 200 and '"output_config"' in request["body"]


def test_tenant_setting_overrides_the_engine_and_takes_effect_at_once(runtime):
    service = runtime.services(TENANT).classifier
    assert service.engine == "claude"
    set_setting(runtime.db, TENANT, "classifier", "local", actor="test")
    assert service.engine == "local"
    set_setting(runtime.db, TENANT, "classifier", "gpt-9", actor="test")
    with pytest.raises(ConfigError, match="gpt-9"):
        service.classify(TICKET)


def test_local_model_comes_from_the_tenant_model_dir(runtime, tmp_path):
    set_setting(runtime.db, TENANT, "classifier", "local", actor="test")
    set_setting(runtime.db, TENANT, "model_dir", str(tmp_path / "no-model-here"), actor="test")
    with pytest.raises(ConfigError, match="no-model-here"):
        engine.get_classifier(runtime, TENANT)


def test_engines_are_reused_until_the_key_changes(runtime, sandbox):
    first = engine.get_classifier(runtime, TENANT)
    assert isinstance(first, ClaudeClassifier)
    assert engine.get_classifier(runtime, TENANT) is first
    runtime.secrets.put(runtime.db, TENANT, engine.API_KEY_SECRET, "sk-ant-rotated")
    second = engine.get_classifier(runtime, TENANT)
    assert second is not first and second.client is not None


def test_no_stored_key_means_no_client(config, tmp_path):
    from connector.db import migrate
    from connector.runtime import Runtime

    rt = Runtime({**config, "anthropic_api_key": None, "db_path": str(tmp_path / "other.db")})
    try:
        migrate(rt.db)
        ensure_env_tenant(rt)
        classifier = engine.get_classifier(rt, TENANT)
        assert isinstance(classifier, ClaudeClassifier) and classifier.client is None
        assert engine.get_drafter(rt, TENANT) is None
    finally:
        rt.close()


def test_pipeline_draft_seam_is_off_by_default(runtime, sandbox):
    assert (
        pipeline_draft_reply(
            engine.get_drafter(runtime, TENANT), TENANT, ticket_text=TICKET, reading=READING
        )
        is None
    )
    with pytest.raises(ConfigError, match="drafts are off"):
        runtime.services(TENANT).classifier.draft_reply(TICKET, READING)
    assert sandbox.state.recorded() == []


def test_pipeline_draft_seam_drafts_when_enabled(runtime, sandbox):
    set_setting(runtime.db, TENANT, "claude_draft_replies", True, actor="test")
    draft = pipeline_draft_reply(
        engine.get_drafter(runtime, TENANT),
        TENANT,
        ticket_text=TICKET,
        reading=READING,
        orders=(),
        placeholders={},
        language="en",
    )
    assert isinstance(draft, DraftReply) and draft.startswith("Hello")
    assert draft.cost_usd > 0
    via_service = runtime.services(TENANT).classifier.draft_reply(TICKET, READING, "", ())
    assert isinstance(via_service, DraftReply)


def test_pipeline_draft_seam_returns_none_when_claude_fails(runtime, sandbox, caplog):
    set_setting(runtime.db, TENANT, "claude_draft_replies", True, actor="test")
    sandbox.state.fail(529, times=1)
    assert (
        pipeline_draft_reply(
            engine.get_drafter(runtime, TENANT), TENANT, ticket_text=TICKET, reading=READING
        )
        is None
    )
    runtime.secrets.put(runtime.db, TENANT, engine.API_KEY_SECRET, "sk-ant-wrong")
    assert (
        pipeline_draft_reply(
            engine.get_drafter(runtime, TENANT), TENANT, ticket_text=TICKET, reading=READING
        )
        is None
    )
    assert [r["status"] for r in sandbox.state.recorded()] == [529, 401]


def test_bench_commands_print_json(cli_runner):
    import json

    from connector.cli import cli

    result = cli_runner.invoke(cli, ["bench", "redact", "--repeat", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tickets"] == 60
    result = cli_runner.invoke(cli, ["bench", "claude", "--tickets", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["first_reading"]["cache_write_tokens"] > 0
    assert (
        data["later_readings"]["cache_read_tokens_mean"]
        == data["first_reading"]["cache_write_tokens"]
    )
    assert (
        "Example: deskguard sandbox anthropic"
        in cli_runner.invoke(cli, ["sandbox", "anthropic", "--help"]).output
    )


@pytest.fixture
def tiny_model_dir(tmp_path):
    """A real local model (random weights, tiny feature space) saved like `deskguard train` does."""
    import numpy as np

    from connector.classify.features import FeatureConfig
    from connector.classify.local import FORMAT_VERSION, LocalClassifier

    features = FeatureConfig(n_buckets=1 << 10)
    meta = {
        "format": FORMAT_VERSION,
        "name": "tiny-test",
        "categories": list(CATEGORIES),
        "features": features.to_dict(),
    }
    weights = np.random.default_rng(0).normal(
        scale=0.01, size=(features.n_buckets, len(CATEGORIES))
    )
    model = LocalClassifier(meta, weights, np.zeros(len(CATEGORIES)), np.array([], dtype=np.uint32))
    return model.save(tmp_path / "tiny-model")


def test_local_engine_uses_the_tenant_model_dir(runtime, sandbox, tiny_model_dir):
    set_setting(runtime.db, TENANT, "classifier", "local", actor="test")
    set_setting(runtime.db, TENANT, "model_dir", str(tiny_model_dir), actor="test")
    reading = runtime.services(TENANT).classifier.classify(TICKET)
    assert reading.engine == "local" and reading.model.startswith("tiny-test")
    assert reading.fallback_reason is None and sandbox.state.recorded() == []


def test_claude_failure_falls_back_to_the_tenant_local_model(runtime, sandbox, tiny_model_dir):
    set_setting(runtime.db, TENANT, "model_dir", str(tiny_model_dir), actor="test")
    sandbox.state.fail(401)
    reading = runtime.services(TENANT).classifier.classify(
        TicketText(
            subject="Refund",
            body="Please refund order #1001 to my card 4111 1111 1111 1111",
            id="9",
        )
    )
    assert reading.engine == "local" and reading.model.startswith("tiny-test")
    assert reading.fallback_reason.startswith("auth_failed: ") and reading.category in CATEGORIES


def test_the_sandbox_answers_with_a_real_local_model(monkeypatch, tiny_model_dir):
    from connector.classify.claude import validate_reading
    from connector.classify.local import LocalClassifier
    from connector.devkit.sandbox import anthropic as sandbox_module

    monkeypatch.setattr(sandbox_module, "_local_model", LocalClassifier.load(tiny_model_dir))
    answer = sandbox_module.reading_input(
        "Wo ist meine Bestellung?", "Bestellung #1001 ist noch nicht da"
    )
    assert validate_reading(answer) == []
    assert answer["reasons"][-1] == "sandbox: answered by the local model"
