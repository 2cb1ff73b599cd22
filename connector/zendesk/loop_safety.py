"""Loop safety: Deskguard must never react to its own notes and replies.

Every update Deskguard makes fires the account's triggers again, so its own note comes back as
a new webhook (and shows up in the incremental export). Two rules keep that from looping:

1. **Which comments are ours.** Every comment Deskguard writes ends with a marker line,
   ``DESKGUARD_MARKER`` followed by the write's idempotency key (``deskguard-ref: <key>``). A
   comment is Deskguard's when its last non-empty line is such a marker line *and*, when the
   Deskguard API user's id is known, that user is the comment's author. Requiring both means a
   customer quoting our reply, or a human agent who shares the API user's login, is not
   mistaken for Deskguard. With OAuth the API user is the user the token acts as: the admin
   who created the OAuth client (client-credentials grant) or who clicked Allow (authorization
   code); ``/users/me`` names it, and a move from an API token keeps the former agent's id too.
2. **Which events to process.** A ticket event whose latest comment is ours is skipped: nothing
   new came from a person since Deskguard last wrote. Field or tag changes that come after our
   note (an agent changes the priority) therefore do not start another round either. The adapter
   takes the latest comment from the ticket's latest audit (one request, ``include=last_audits``)
   and lists the thread when that audit holds no comment, so ``ticket.comments[-1]`` is always
   the ticket's latest comment, with its author.

The intake adds a cheaper first line of defence (``connector/zendesk/handler.py``): the adapter
remembers the ``updated_at`` of every update it made, and a job for exactly that version of the
ticket is acknowledged without any Zendesk call.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from connector.domain import DESKGUARD_MARKER, Ticket


def marker_line(key: str) -> str:
    """The line we append to a comment for the write's idempotency key (``marker=`` everywhere is
    the bare key; see DESKGUARD_MARKER in connector/domain.py). A full marker line is refused
    rather than guessed at, so a caller that adds the prefix itself fails loudly instead of
    writing it twice."""
    key = key.strip()
    if not key:
        raise ValueError("a Deskguard comment needs a marker (the write's idempotency key)")
    if key.startswith(DESKGUARD_MARKER):
        raise ValueError(
            f"marker must be the bare idempotency key, not a {DESKGUARD_MARKER!r} line: {key!r}"
        )
    if "\n" in key or "\r" in key:
        raise ValueError("marker must be a single line")
    return f"{DESKGUARD_MARKER} {key}"


def with_marker(body: str, key: str) -> str:
    """``body`` ending with the marker line of ``key`` (added once)."""
    line = marker_line(key)
    text = body.rstrip()
    if _last_line(text) == line:
        return text
    return f"{text}\n\n{line}" if text else line


def _last_line(body: str) -> str:
    for line in reversed((body or "").splitlines()):
        if line.strip():
            return line.strip()
    return ""


def has_marker(body: str, key: str | None = None) -> bool:
    """True when the body ends with a Deskguard marker line (the one of ``key``, when given)."""
    last = _last_line(body)
    if key is not None:
        return last == marker_line(key)
    return last.startswith(DESKGUARD_MARKER)


def is_deskguard_comment(
    body: str, author_id: int | None, api_user_id: int | Collection[int] | None
) -> bool:
    """Rule 1 above. ``api_user_id`` None means "not known yet": the marker alone decides. A
    collection holds every user Deskguard writes or wrote as: the OAuth token's user now, and
    the API-token agent it wrote as before ``deskguard zendesk migrate-auth``."""
    if not has_marker(body):
        return False
    if api_user_id is None:
        return True
    if isinstance(api_user_id, int):
        return author_id == api_user_id
    return author_id in api_user_id


@dataclass(frozen=True)
class Verdict:
    """Whether to process a ticket event, and why. Truthy when it should be processed, and
    unpacks as ``(process, reason)``."""

    process: bool
    reason: str

    def __bool__(self) -> bool:
        return self.process

    def __iter__(self) -> Iterator[object]:
        yield self.process
        yield self.reason


def needs_processing(ticket: Ticket) -> Verdict:
    """Rule 2 above, plus: closed tickets cannot be updated in Zendesk, so they are skipped."""
    if ticket.status in ("closed", "deleted"):
        return Verdict(False, f"ticket_{ticket.status}")
    if not ticket.comments:
        return Verdict(False, "no_comments")
    if ticket.comments[-1].by_deskguard:
        return Verdict(False, "latest_comment_is_deskguard")
    return Verdict(True, "new_activity")


def activity_key(ticket: Ticket) -> str:
    """Identifies the person activity an event is about
    (``<ticket id>:<latest person comment id>``), so shadow/assist decisions can be keyed on it and
    a field-only change does not count twice."""
    latest = ticket.latest_person_comment
    return f"{ticket.id}:{latest.id if latest else 0}"
