"""Loop safety rules on their own (no HTTP): which comments are Deskguard's, which events to
process."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connector.domain import DESKGUARD_MARKER, Comment, Person, Ticket
from connector.zendesk.loop_safety import (
    activity_key,
    has_marker,
    is_deskguard_comment,
    marker_line,
    needs_processing,
    with_marker,
)

BOT = 900


def comment(cid: int, body: str, author: int = 500, *, ours: bool | None = None) -> Comment:
    mine = is_deskguard_comment(body, author, BOT) if ours is None else ours
    return Comment(id=cid, author_id=author, public=True, body=body, by_deskguard=mine)


def ticket(*comments: Comment, status: str = "open") -> Ticket:
    return Ticket(
        id=7,
        subject="Help",
        requester=Person(500, "Jane", "jane@example.com"),
        status=status,
        comments=comments,
    )


def test_marker_line_takes_the_bare_key_and_refuses_a_full_line():
    assert marker_line("acme:7:k") == f"{DESKGUARD_MARKER} acme:7:k"
    with pytest.raises(ValueError):
        marker_line(f"{DESKGUARD_MARKER} acme:7:k")  # would be written twice
    with pytest.raises(ValueError):
        marker_line("acme:7:k\nanother line")
    with pytest.raises(ValueError):
        marker_line("  ")


def test_with_marker_appends_once():
    once = with_marker("Brief", "k")
    assert once == f"Brief\n\n{DESKGUARD_MARKER} k"
    assert with_marker(once, "k") == once
    assert has_marker(once) and has_marker(once, "k") and not has_marker(once, "other")


def test_a_comment_is_ours_only_with_the_marker_last_and_our_author():
    ours = with_marker("Brief", "k")
    assert is_deskguard_comment(ours, BOT, BOT)
    assert not is_deskguard_comment(ours, 500, BOT)  # a customer pasting our text is not us
    assert not is_deskguard_comment("Brief", BOT, BOT)  # the shared login typing by hand is not us
    assert not is_deskguard_comment(
        f"{DESKGUARD_MARKER} k\n\nThanks, but that did not help", 500, BOT
    )
    assert is_deskguard_comment(ours, 123, None)  # API user unknown yet: the marker decides


def test_latest_comment_ours_means_skip():
    t = ticket(comment(1, "Where is my order?"), comment(2, with_marker("Brief", "k"), BOT))
    verdict = needs_processing(t)
    assert not verdict and verdict.reason == "latest_comment_is_deskguard"
    process, reason = verdict
    assert (process, reason) == (False, "latest_comment_is_deskguard")


def test_new_person_activity_after_our_note_is_processed():
    t = ticket(
        comment(1, "Where is my order?"),
        comment(2, with_marker("Brief", "k"), BOT),
        comment(3, "Any news?"),
    )
    assert needs_processing(t)
    assert tuple(needs_processing(t)) == (True, "new_activity")
    assert activity_key(t) == "7:3"


def test_an_agent_reply_counts_as_activity():
    t = ticket(
        comment(1, "Where is my order?"),
        comment(2, with_marker("Brief", "k"), BOT),
        comment(3, "I checked with the carrier.", author=77),
    )
    assert needs_processing(t).process


@pytest.mark.parametrize("status", ["closed", "deleted"])
def test_closed_tickets_are_skipped(status):
    assert needs_processing(ticket(comment(1, "x"), status=status)).reason == f"ticket_{status}"


def test_a_ticket_without_comments_is_skipped():
    assert needs_processing(ticket()).reason == "no_comments"


def test_field_only_changes_keep_the_same_activity_key():
    t = ticket(comment(1, "Where is my order?"))
    assert activity_key(t) == activity_key(replace(t, tags=("vip",), priority="high"))
