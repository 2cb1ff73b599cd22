"""Log lines never carry a card number: the event, every string field (nested too) and the
traceback are masked, by ``logs.log`` for every handler and by the JSON formatter for any record."""

from __future__ import annotations

import io
import json
import logging

import pytest

from connector import logs

CARD = "4111 1111 1111 1111"


@pytest.fixture
def output():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logs.get("test.cards")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_event_and_fields_are_masked_for_every_handler(output, caplog):
    caplog.set_level(logging.DEBUG, logger="deskguard.test.cards")
    logs.log(
        logs.get("test.cards"),
        logging.WARNING,
        f"bad ticket {CARD}",
        error="ValueError: card \u0664\u0661\u0661\u0661\u200c" + "\u0661" * 12 + " refused",
        nested={"rows": [f"<b>{CARD}</b>", 42]},
        api_token="tok-secret",
        ms=12,
    )
    [line] = output()
    assert line["event"] == "bad ticket [CARD]"
    assert line["error"] == "ValueError: card [CARD] refused"
    assert line["nested"] == {"rows": ["<b>[CARD]</b>", 42]}
    assert line["api_token"] == "********" and line["ms"] == 12
    [record] = caplog.records  # the record itself is masked: caplog and any handler see no card
    assert "4111" not in record.getMessage() and "4111" not in json.dumps(record.fields)


def test_a_traceback_and_a_direct_logger_call_are_masked_by_the_formatter(output):
    logger = logs.get("test.cards")
    try:
        raise RuntimeError(f"could not parse {CARD.replace(' ', '|')}")
    except RuntimeError:
        logger.exception("worker.loop_error %s", CARD.replace(" ", "\u200b"))
    [line] = output()
    assert line["event"] == "worker.loop_error [CARD]"
    assert "[CARD]" in line["exc"] and "4111" not in line["exc"]


def test_timestamps_ids_and_amounts_are_not_masked(output):
    text = "at 2026-12-07T07:13:48.838202+00:00 job 1234567 order #1001 paid 1,299.00"
    logs.log(logs.get("test.cards"), logging.INFO, text, ticket="9400100000000000000000")
    [line] = output()
    assert line["event"] == text
    assert logs.mask_cards(line["ts"]) == line["ts"]


def test_a_hex_digest_with_a_luhn_valid_digit_run_is_left_alone():
    """Audit heads and digests go to the log as an outside copy: masking a digit run inside one
    would corrupt it. A card glued to an ordinary word is still masked."""
    from connector.logs import mask_cards

    digest = "hmac:3cd7584ffcfc:45effa8cb0f7ec1177499277346bd508ef1a0351dd7946e370fd5c61b835f505"
    assert mask_cards(digest) == digest
    assert mask_cards("card4111111111111111 thanks") == "card[CARD] thanks"
    assert mask_cards("deadbeef 4111111111111111") == "deadbeef [CARD]"
