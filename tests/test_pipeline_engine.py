"""process_ticket end to end over in-memory fakes of our ports."""

from __future__ import annotations

from connector.pipeline import process_ticket
from connector.pipeline.testing import FakeClassifier, FakeDesk

TENANT = "acme"


def test_minimal_assist_note_is_written_once(runtime):
    desk = FakeDesk()
    desk.add_ticket(1, "Where is my order #1001?")
    runtime.override("zendesk", desk)
    runtime.override("classifier", FakeClassifier())
    result = process_ticket(runtime, TENANT, 1)
    assert result.outcome != "skip"
    notes = [w for w in desk.writes if w[0] == "internal_note"]
    assert len(notes) == 1
    # Deskguard's own note is now the latest comment: nothing new from a person → skip.
    again = process_ticket(runtime, TENANT, 1)
    assert again.outcome == "skip"
    assert len([w for w in desk.writes if w[0] == "internal_note"]) == 1
