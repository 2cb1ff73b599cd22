"""Zendesk adapter on zenpy: implements ``connector.domain.TicketDesk`` and returns our dataclasses.

Transport seam (see docs/vendors/zendesk.md, zenpy). zenpy builds every URL as
``{protocol}://{subdomain}.{domain}`` with ``protocol`` hard-coded to https per API object, and
its response handlers only accept
responses whose URL contains that host. Rather than the process-wide ``ZENPY_FORCE_*`` variables,
each client is pointed at its own base URL: the URL's host is split at its first dot into
``subdomain`` and ``domain`` (``acme.zendesk.com`` → ``acme`` + ``zendesk.com``;
``127.0.0.1:8123`` → ``127`` + ``0.0.1:8123``) and ``protocol`` is set on the client's API
objects. The client gets our own ``requests.Session`` (``_CountingSession``) that counts API
calls, remembers the last ``Retry-After`` and mounts zenpy's default retry adapter for both
schemes.

Rate limits: zenpy sleeps out ``Retry-After`` on a 429 and re-sends, within ``ratelimit_budget``
seconds. zenpy spends that budget cumulatively over a client's life, so it is reset at the start
of every operation: each operation may wait at most the budget, then fails with a
``TransientError`` carrying ``retry_after`` (the worker's backoff honours it).

Threads: zenpy keeps per-request state on its API objects (the dirty object being sent, the
budget), so each thread gets its own zenpy client; the adapter itself is shared.

Reads that need sideloads use zenpy's transport (``Api._get``, so auth, 429 handling and error
checks stay zenpy's) and read the JSON directly; zenpy's object layer keeps only the primary
object and would drop the sideloads. Reading a ticket for the pipeline is ONE request:
``GET /tickets/{id}.json?include=users,last_audits`` (the requester, and the ticket's most recent
audit, whose ``Comment`` event is the latest comment with its author and visibility: enough for
loop safety and for reading the customer's latest message). show_many takes the same sideloads
(100 tickets per request); the incremental export does not serve ``last_audits`` (Zendesk: "for
performance reasons"), so export pages carry the ticket's description only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from requests.adapters import HTTPAdapter
from zenpy import Zenpy
from zenpy.lib.api import BaseApi
from zenpy.lib.api_objects import Comment as ZComment
from zenpy.lib.api_objects import Ticket as ZTicket
from zenpy.lib.api_objects import Trigger as ZTrigger
from zenpy.lib.api_objects import User as ZUser
from zenpy.lib.api_objects import Webhook as ZWebhook
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded, ZenpyException

from connector.domain import Comment, DeskUser, Person, Ticket
from connector.errors import ConfigError, PermanentError, TransientError
from connector.zendesk.loop_safety import has_marker, is_deskguard_comment, marker_line, with_marker

VENDOR = "zendesk"
UPDATE_MANY_LIMIT = 100  # Zendesk's limit per update_many request (docs/vendors/zendesk.md)
_RETRYABLE = {409, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class ExportPage:
    """One page of the incremental cursor export."""

    tickets: tuple[Ticket, ...]
    after_cursor: str | None
    end_of_stream: bool


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def split_base_url(base_url: str) -> tuple[str, str, str]:
    """``https://acme.zendesk.com`` → ("https", "acme", "zendesk.com"). See the module doc."""
    parts = urlsplit(base_url.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"DESKGUARD_ZENDESK_URL={base_url!r} is invalid: expected e.g. https://acme.zendesk.com"
        )
    if parts.path not in ("", "/"):
        raise ConfigError(f"DESKGUARD_ZENDESK_URL={base_url!r} must not have a path")
    subdomain, dot, domain = parts.netloc.partition(".")
    if not dot or not subdomain or not domain:
        raise ConfigError(
            f"DESKGUARD_ZENDESK_URL={base_url!r}: the host needs a dot"
            " (use 127.0.0.1, not localhost)"
        )
    return parts.scheme, subdomain, domain


class AccessTokens(Protocol):
    """Where an OAuth adapter gets its Bearer token (``connector/zendesk/oauth.py``: TenantTokens):
    ``current()`` is a token valid for at least the refresh margin (refreshing first when it is
    not); ``after_rejection(token)`` is called once when Zendesk answered 401 to ``token`` and
    returns the token to retry with (a new one after a refresh, or one another thread or process
    already obtained)."""

    def current(self) -> str: ...

    def after_rejection(self, rejected: str) -> str: ...


class _Counting:
    """Counts every API request (per adapter and per thread) and remembers the last Retry-After.
    Mixed into the session zenpy is handed (API token or OAuth)."""

    _owner: ZendeskDesk
    last_retry_after: float | None

    def _setup_counting(self, owner: ZendeskDesk) -> None:
        self._owner = owner
        self.last_retry_after = None
        # zenpy mounts its retry adapter (3 tries on 413/503, not 429) only on sessions it creates.
        adapter = HTTPAdapter(**Zenpy.http_adapter_kwargs())
        self.mount("https://", adapter)  # type: ignore[attr-defined]
        self.mount("http://", adapter)  # type: ignore[attr-defined]

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._owner._count_call()
        response = super().request(method, url, *args, **kwargs)  # type: ignore[misc]
        if response.status_code == 429:
            try:
                self.last_retry_after = float(response.headers.get("Retry-After", ""))
            except ValueError:
                self.last_retry_after = None
        return response


class _CountingSession(_Counting, requests.Session):
    """The session of an API-token (basic auth) adapter; zenpy sets the auth on it."""

    def __init__(self, owner: ZendeskDesk):
        requests.Session.__init__(self)
        self._setup_counting(owner)


class _OAuthSession(_Counting, OAuth2Session):
    """An Authlib OAuth 2 session handed to zenpy (``session=``; zenpy sends a fixed token and
    cannot refresh: zenpy GitHub issue 678, open). Before each request it takes the tenant's
    current token
    from ``AccessTokens`` (refreshed there, one refresh at a time across threads and processes);
    on a 401 it asks once for a fresh token and re-sends. Authlib's own refresh is not used: it
    knows neither the ledger lock nor the other processes."""

    authorized = True  # zenpy leaves the auth of an "authorized" session alone

    def __init__(self, owner: ZendeskDesk, tokens: AccessTokens):
        OAuth2Session.__init__(self, leeway=0)
        self._setup_counting(owner)
        self._tokens = tokens

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        used = self._tokens.current()
        self.token = {"access_token": used, "token_type": "bearer"}
        response = super().request(method, url, *args, **kwargs)
        if response.status_code != 401:
            return response
        # An access token can expire or be revoked between our check and Zendesk's: refresh once
        # and retry ("Working with OAuth refresh tokens": refresh when the token is expired).
        fresh = self._tokens.after_rejection(used)
        if fresh == used:
            return response
        self.token = {"access_token": fresh, "token_type": "bearer"}
        return super().request(method, url, *args, **kwargs)


class ZendeskDesk:
    """The Zendesk side of Deskguard for one account (one tenant)."""

    def __init__(
        self,
        base_url: str,
        email: str,
        token: str,
        *,
        timeout: float = 15.0,
        ratelimit_budget: int = 60,
        api_user_id: int | None = None,
        on_own_update: Callable[[int, str], None] | None = None,
        on_api_user: Callable[[int], None] | None = None,
        job_poll_interval: float = 0.5,
        job_timeout: float = 300.0,
        oauth: AccessTokens | None = None,
        former_api_user_ids: Sequence[int] = (),
    ):
        if oauth is None and (not email or not token):
            raise ConfigError(
                "Zendesk credentials are missing: connect Zendesk by OAuth "
                "(DESKGUARD_ZENDESK_OAUTH_CLIENT_ID and _SECRET, or /connect/zendesk)"
            )
        self.base_url = base_url.rstrip("/")
        self._scheme, self._subdomain, self._domain = split_base_url(base_url)
        self._email = email
        self._token = token
        self.timeout = timeout
        self.ratelimit_budget = max(1, int(ratelimit_budget))
        self._api_user_id = api_user_id
        self._oauth = oauth
        # Users Deskguard wrote as before (e.g. the API-token agent before a move to OAuth):
        # their marked comments are still Deskguard's (loop safety).
        self.former_api_user_ids = frozenset(int(i) for i in former_api_user_ids)
        self.on_own_update = on_own_update
        self.on_api_user = on_api_user
        self.job_poll_interval = job_poll_interval
        self.job_timeout = job_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self.api_calls = 0

    def __repr__(self) -> str:  # never shows the token
        auth = "oauth" if self._oauth is not None else f"email={self._email!r}"
        return f"ZendeskDesk({self.base_url!r}, {auth})"

    @property
    def auth_kind(self) -> str:
        """``oauth`` or ``api_token`` (deprecated: Zendesk deactivates API tokens 30 Apr 2027)."""
        return "oauth" if self._oauth is not None else "api_token"

    # --- plumbing ------------------------------------------------------------------------------
    def _count_call(self) -> None:
        with self._lock:
            self.api_calls += 1
        self._local.calls = getattr(self._local, "calls", 0) + 1

    @property
    def thread_api_calls(self) -> int:
        """API calls made from the current thread (per-job figures in the worker)."""
        return getattr(self._local, "calls", 0)

    def _client(self) -> Zenpy:
        client = getattr(self._local, "client", None)
        if client is None:
            session: _CountingSession | _OAuthSession
            if self._oauth is not None:
                session = _OAuthSession(self, self._oauth)
                credentials: dict[str, Any] = {}
            else:
                session = _CountingSession(self)
                credentials = {"email": self._email, "token": self._token}
            client = Zenpy(
                subdomain=self._subdomain,
                domain=self._domain,
                **credentials,
                session=session,
                timeout=self.timeout,
                ratelimit_budget=self.ratelimit_budget,
                disable_cache=True,
            )
            for api in _apis(client):
                api.protocol = self._scheme
            self._local.client = client
            self._local.session = session
        return client

    @contextmanager
    def _call(self, operation: str, *, ratelimit_budget: int | None = None) -> Iterator[Zenpy]:
        """One adapter operation: a fresh 429 budget, and vendor errors translated at the boundary.
        ``ratelimit_budget`` overrides the adapter's for calls a person is waiting on
        (1: no wait)."""
        client = self._client()
        session: _CountingSession | _OAuthSession = self._local.session
        session.last_retry_after = None
        budget = (
            self.ratelimit_budget if ratelimit_budget is None else max(1, int(ratelimit_budget))
        )
        for api in _apis(client):
            api.ratelimit_budget = budget
        try:
            yield client
        except RatelimitBudgetExceeded:
            raise TransientError(
                f"zendesk {operation}: HTTP 429, still rate limited after {budget}s",
                vendor=VENDOR,
                status=429,
                retry_after=session.last_retry_after,
            ) from None
        except APIException as exc:
            raise _api_error(operation, exc, session.last_retry_after) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            cls = TransientError if status in _RETRYABLE or status is None else PermanentError
            raise cls(f"zendesk {operation}: HTTP {status}", vendor=VENDOR, status=status) from None
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(
                f"zendesk {operation}: {type(exc).__name__}", vendor=VENDOR
            ) from None
        except requests.RequestException as exc:
            raise TransientError(
                f"zendesk {operation}: {type(exc).__name__}", vendor=VENDOR
            ) from None
        except ZenpyException as exc:
            raise PermanentError(f"zendesk {operation}: {exc}", vendor=VENDOR) from None

    def _get_json(self, client: Zenpy, path: str, **params: Any) -> dict[str, Any]:
        api = client.tickets
        query = urlencode({k: v for k, v in params.items() if v is not None}, safe=",[]")
        url = f"{self._scheme}://{api.base_url}/api/v2/{path}" + (f"?{query}" if query else "")
        return api._get(url, raw_response=True).json()

    def _own_update(self, ticket_id: int, updated_at: str | None) -> None:
        if updated_at and self.on_own_update is not None:
            self.on_own_update(ticket_id, updated_at)

    # --- identity ------------------------------------------------------------------------------
    def current_user(self) -> dict[str, Any]:
        with self._call("users.me") as client:
            user = client.users.me()
        self._api_user_id = int(user.id)  # /users/me is the API user by definition
        return {"id": user.id, "name": user.name, "email": user.email, "role": user.role}

    def get_user(self, user_id: int, *, ratelimit_budget: int | None = 1) -> DeskUser:
        """One user as Zendesk reports them (``GET /users/{id}.json``): role, custom role, active,
        suspended. With a custom agent role (Enterprise), its name comes from one more request
        (``GET /custom_roles/{id}.json``); when the API user may not read roles (403/404), the name
        stays empty and ``custom_role_id`` is still set. A missing user raises PermanentError 404.

        A person waits on this (the side panel's permission checks), so by default a 429 is not
        slept out: it fails at once as TransientError (pass ``ratelimit_budget=None`` to wait)."""
        with self._call("users.show", ratelimit_budget=ratelimit_budget) as client:
            raw = self._get_json(client, f"users/{int(user_id)}.json").get("user") or {}
        custom_role_id = raw.get("custom_role_id")
        custom_role_name = ""
        if custom_role_id:
            try:
                with self._call("custom_roles.show", ratelimit_budget=ratelimit_budget) as client:
                    role = (
                        self._get_json(client, f"custom_roles/{int(custom_role_id)}.json").get(
                            "custom_role"
                        )
                        or {}
                    )
                custom_role_name = str(role.get("name") or "")
            except PermanentError as exc:
                if exc.status not in (403, 404):
                    raise
        return DeskUser(
            id=int(raw.get("id", user_id)),
            role=str(raw.get("role") or ""),
            name=str(raw.get("name") or ""),
            active=bool(raw.get("active", True)),
            suspended=bool(raw.get("suspended", False)),
            custom_role_id=int(custom_role_id) if custom_role_id else None,
            custom_role_name=custom_role_name,
            role_type=raw.get("role_type"),
        )

    @property
    def api_user_id(self) -> int:
        """The Zendesk user Deskguard writes as (loop safety); looked up once and remembered."""
        if self._api_user_id is None:
            self._api_user_id = int(self.current_user()["id"])
            if self.on_api_user is not None:
                self.on_api_user(self._api_user_id)
        return self._api_user_id

    def _own_authors(self) -> frozenset[int]:
        """Every user Deskguard writes or wrote as (looks the current one up once)."""
        return self.former_api_user_ids | {self.api_user_id}

    def _known_authors(self) -> frozenset[int] | None:
        """As ``_own_authors`` without a request; None while the current user is unknown."""
        if self._api_user_id is None:
            return None
        return self.former_api_user_ids | {self._api_user_id}

    # --- reading -------------------------------------------------------------------------------
    def get_ticket(self, ticket_id: int, *, full: bool = False) -> Ticket:
        """The ticket with its requester and its latest comment, in one request.

        ``GET /tickets/{id}.json?include=users,last_audits``: the requester comes from the ``users``
        sideload and the latest comment from the ticket's most recent audit (its ``Comment``
        event: id, author_id, body, public). That is everything the pipeline needs: whether the
        latest activity is a person's (loop safety) and that person's message. ``comments`` then
        holds that one comment and ``comments_complete`` is False. When the latest audit carries
        no comment (an agent changed a field or a tag), or with ``full=True``, the thread is
        listed too: one more request per 100 comments.
        """
        api_user_id = self._own_authors()
        with self._call("tickets.show") as client:
            data = self._get_sideloaded(client, id=int(ticket_id))
            raw = data["ticket"]
            latest = _latest_comments(data.get("last_audits"), api_user_id).get(int(raw["id"]))
            if full or latest is None:
                return _ticket(
                    raw, _users(data), self._list_comments(client, int(ticket_id), api_user_id)
                )
        return _ticket(raw, _users(data), (latest,), complete=False)

    def get_comments(self, ticket_id: int) -> tuple[Comment, ...]:
        """Every comment on the ticket, oldest first (cursor pages of 100)."""
        api_user_id = self._own_authors()
        with self._call("tickets.comments") as client:
            return self._list_comments(client, int(ticket_id), api_user_id)

    def get_tickets(self, ids: Sequence[int]) -> list[Ticket]:
        """Tickets by id, 100 per request (show_many with ``include=users,last_audits``), each with
        its latest comment like ``get_ticket``. A ticket whose latest audit carries no comment has
        its thread listed (one more request for that ticket). Missing or deleted ids are left
        out."""
        api_user_id = self._own_authors()
        out: list[Ticket] = []
        for chunk in _chunks(list(dict.fromkeys(int(i) for i in ids)), 100):
            with self._call("tickets.show_many") as client:
                data = self._get_sideloaded(client, ids=chunk)
                users = _users(data)
                latest = _latest_comments(data.get("last_audits"), api_user_id)
                for raw in data.get("tickets", []):
                    comment = latest.get(int(raw["id"]))
                    if comment is None:
                        out.append(
                            _ticket(
                                raw, users, self._list_comments(client, int(raw["id"]), api_user_id)
                            )
                        )
                    else:
                        out.append(_ticket(raw, users, (comment,), complete=False))
        return out

    def _get_sideloaded(self, client: Zenpy, **selector: Any) -> dict[str, Any]:
        """One show / show_many request with the requester and the latest audit sideloaded. zenpy
        builds the URL (``include`` is one of its endpoint parameters); its object layer would keep
        only the ticket, so the JSON is read directly."""
        api = client.tickets
        url = api._build_url(api.endpoint(include=["users", "last_audits"], **selector))
        return api._get(url, raw_response=True).json()

    def _list_comments(
        self, client: Zenpy, ticket_id: int, api_user_id: frozenset[int] | None
    ) -> tuple[Comment, ...]:
        return tuple(
            self._comment(c.to_dict(), api_user_id)
            for c in client.tickets.comments(ticket=ticket_id)
        )

    def _comment(self, c: Mapping[str, Any], api_user_id: frozenset[int] | None) -> Comment:
        via = c.get("via") or {}
        body = c.get("body") or c.get("plain_body") or ""
        return Comment(
            id=int(c["id"]),
            author_id=c.get("author_id"),
            public=bool(c.get("public")),
            body=body,
            created_at=parse_time(c.get("created_at")),
            via_channel=(via.get("channel") if isinstance(via, Mapping) else "") or "",
            by_deskguard=is_deskguard_comment(body, c.get("author_id"), api_user_id),
        )

    def export_page(
        self,
        *,
        cursor: str | None = None,
        start_time: int | None = None,
        per_page: int = 1000,
        include_users: bool = False,
    ) -> ExportPage:
        """One request to the incremental cursor export (its own limit: 10 requests/minute)."""
        if (cursor is None) == (start_time is None):
            raise ValueError("pass either cursor or start_time")
        with self._call("incremental.tickets") as client:
            data = self._get_json(
                client,
                "incremental/tickets/cursor.json",
                cursor=cursor,
                start_time=start_time,
                per_page=per_page,
                include="users" if include_users else None,
            )
        users = _users(data)
        api_user_id = self._known_authors()
        tickets = tuple(
            _ticket(
                t,
                users,
                (_description(t, api_user_id),) if t.get("description") else (),
                complete=False,
            )
            for t in data.get("tickets", [])
        )
        return ExportPage(tickets, data.get("after_cursor"), bool(data.get("end_of_stream")))

    def export_tickets(self, start_time: int, *, per_page: int = 1000) -> Iterator[Ticket]:
        """Every ticket changed since ``start_time``, a page (≤ 1000) per request, until
        end_of_stream. Each ticket carries its description as its single comment (id 0: not a real
        comment id)."""
        page = self.export_page(start_time=int(start_time), per_page=per_page, include_users=True)
        while True:
            yield from page.tickets
            if page.end_of_stream or not page.after_cursor:
                return
            page = self.export_page(cursor=page.after_cursor, per_page=per_page, include_users=True)

    def find_comment_with_marker(self, ticket_id: int, marker: str) -> Comment | None:
        """The comment we wrote for this idempotency key (crash reconciliation), or None. Lists the
        comments: it runs only after a crash, when a write's outcome is unknown."""
        marker_line(marker)  # a bare key, or a clear error before any request
        api_user_id = self._own_authors()
        with self._call("tickets.comments") as client:
            for c in client.tickets.comments(ticket=int(ticket_id)):
                if has_marker(c.body or "", marker):
                    return self._comment(c.to_dict(), api_user_id)
        return None

    def find_open_tickets(self, requester_email: str) -> list[Ticket]:
        """Unsolved tickets of a requester.

        Search API: ``type:ticket requester:EMAIL status<solved``.
        """
        email = requester_email.strip()
        if not email or any(ch.isspace() or ch == '"' for ch in email):
            raise PermanentError(f"not a searchable email: {requester_email!r}", vendor=VENDOR)
        with self._call("search") as client:
            results = [
                r.to_dict()
                for r in client.search(query=f"type:ticket requester:{email} status<solved")
            ]
        return [
            _ticket(r, {r.get("requester_id"): {"id": r.get("requester_id"), "email": email}}, ())
            for r in results
            if "subject" in r
        ]

    def app_installation_settings(self, app_id: int | None = None) -> dict[str, Any]:
        """Settings of the Deskguard app installation ({} when it is not installed).

        With ``app_id`` that app's installation; otherwise the one named Deskguard, else the one
        whose settings carry ``kill_switch``.
        """
        with self._call("apps.installations") as client:
            data = self._get_json(client, "apps/installations.json")
        installs = data.get("installations") or []
        if app_id is not None:
            chosen = [i for i in installs if i.get("app_id") == app_id]
        else:
            chosen = [
                i
                for i in installs
                if "deskguard" in str((i.get("settings") or {}).get("name", "")).lower()
            ]
            chosen = chosen or [i for i in installs if "kill_switch" in (i.get("settings") or {})]
        return dict(chosen[0].get("settings") or {}) if chosen else {}

    def app_public_key_pem(self, app_id: int) -> bytes:
        """The PEM public key Zendesk signs the app's signed URLs with (Apps API, "Get App
        Public Key": GET /api/v2/apps/{app_id}/public_key.pem; docs/vendors/zendesk.md)."""
        with self._call("apps.public_key", ratelimit_budget=1) as client:
            api = client.tickets
            url = f"{self._scheme}://{api.base_url}/api/v2/apps/{int(app_id)}/public_key.pem"
            return bytes(api._get(url, raw_response=True).content)

    # --- writing (always called from inside connector.actions.execute) ---------------------------
    def _update(self, operation: str, ticket: ZTicket) -> dict[str, Any]:
        with self._call(operation) as client:
            audit = client.tickets.update(ticket)
        ticket_json = audit.ticket.to_dict() if audit.ticket else {}
        events = audit.audit.to_dict().get("events", []) if audit.audit else []
        comment_id = next((e.get("id") for e in events if e.get("type") == "Comment"), None)
        updated_at = ticket_json.get("updated_at")
        self._own_update(int(ticket.id), updated_at)
        return {
            "ticket_id": int(ticket.id),
            "comment_id": comment_id,
            "audit_id": audit.audit.id if audit.audit else None,
            "updated_at": updated_at,
            "status": ticket_json.get("status"),
            "tags": list(ticket_json.get("tags") or []),
        }

    def add_internal_note(
        self,
        ticket_id: int,
        body: str,
        *,
        marker: str,
        tags: tuple[str, ...] = (),
        priority: str | None = None,
    ) -> dict[str, Any]:
        """An internal note (``public`` explicitly false: Zendesk otherwise carries over the
        ticket's creation value); tags are added with ``additional_tags``, never replacing the
        others."""
        ticket = ZTicket(id=int(ticket_id))
        ticket.comment = ZComment(body=with_marker(body, marker), public=False)
        if tags:
            ticket.additional_tags = list(tags)
        if priority:
            ticket.priority = priority
        return self._update("tickets.internal_note", ticket)

    def public_reply(
        self,
        ticket_id: int,
        body: str,
        *,
        marker: str,
        solve: bool = True,
        tags: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        ticket = ZTicket(id=int(ticket_id))
        ticket.comment = ZComment(body=with_marker(body, marker), public=True)
        if solve:
            ticket.status = "solved"
        if tags:
            ticket.additional_tags = list(tags)
        return self._update("tickets.public_reply", ticket)

    def add_tags(self, ticket_id: int, tags: tuple[str, ...]) -> list[str]:
        """Adds tags with the tags endpoint.

        PUT adds; a ``tags`` array on the ticket would replace.
        """
        with self._call("tickets.tags") as client:
            result = client.tickets.add_tags(int(ticket_id), list(tags))
            return [str(t) for t in result]

    def set_custom_fields(self, ticket_id: int, fields: dict[int, Any]) -> None:
        ticket = ZTicket(
            id=int(ticket_id), custom_fields=[{"id": int(k), "value": v} for k, v in fields.items()]
        )
        self._update("tickets.custom_fields", ticket)

    def create_ticket(
        self,
        *,
        subject: str,
        body: str,
        requester_email: str,
        priority: str = "normal",
        tags: tuple[str, ...] = (),
        public: bool = False,
        marker: str = "",
        external_id: str = "",
    ) -> int:
        """Create a ticket. ``external_id`` (our idempotency key) lets a retry whose first
        outcome is unknown find the ticket with ``find_tickets_by_external_id`` instead of
        search, which lags new tickets (docs/vendors/zendesk.md)."""
        fields: dict[str, Any] = {"external_id": external_id} if external_id else {}
        ticket = ZTicket(
            subject=subject,
            requester=ZUser(email=requester_email, name=requester_email.split("@")[0]),
            comment=ZComment(body=with_marker(body, marker) if marker else body, public=public),
            priority=priority,
            tags=list(tags),
            **fields,
        )
        with self._call("tickets.create") as client:
            audit = client.tickets.create(ticket)
        return int(audit.ticket.id)

    def find_tickets_by_external_id(self, external_id: str) -> list[int]:
        """Ids of the tickets carrying ``external_id`` (Tickets API, "List Tickets" with the
        ``external_id`` filter: read straight from the tickets, not from the search index)."""
        with self._call("tickets.by_external_id") as client:
            data = self._get_json(client, "tickets.json", external_id=external_id)
        return [int(t["id"]) for t in data.get("tickets") or [] if t.get("id") is not None]

    def update_many(self, changes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Apply per-ticket changes (each a dict with ``id``) in update_many jobs of ≤ 100 tickets,
        following each job to completion. Returns one result per ticket (``success`` false on
        failure)."""
        results: list[dict[str, Any]] = []
        for chunk in _chunks(list(changes), UPDATE_MANY_LIMIT):
            tickets = []
            for change in chunk:
                if "id" not in change:
                    raise ValueError("every change needs the ticket id")
                tickets.append(ZTicket(**{k: v for k, v in change.items()}))
            with self._call("tickets.update_many") as client:
                job = client.tickets.update(tickets)
            results.extend(self.wait_for_job(job.id))
        return results

    def wait_for_job(self, job_id: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + self.job_timeout
        while True:
            with self._call("job_statuses.show") as client:
                job = client.job_status(id=job_id).to_dict()
            if job.get("status") in ("completed", "failed", "killed"):
                results = [dict(r) for r in job.get("results") or []]
                if job["status"] != "completed" and not results:
                    raise PermanentError(
                        f"zendesk job {job_id} {job['status']}: {job.get('message')}", vendor=VENDOR
                    )
                return results
            if time.monotonic() > deadline:
                raise TransientError(
                    f"zendesk job {job_id} still {job.get('status')} after {self.job_timeout}s",
                    vendor=VENDOR,
                )
            time.sleep(self.job_poll_interval)

    # --- setup (webhook + trigger) ---------------------------------------------------------------
    def find_webhooks(self, name_contains: str) -> list[dict[str, Any]]:
        with self._call("webhooks.list") as client:
            return [w.to_dict() for w in client.webhooks.list(filter=name_contains)]

    def create_webhook(self, *, name: str, endpoint: str) -> dict[str, Any]:
        hook = ZWebhook(
            name=name,
            endpoint=endpoint,
            http_method="POST",
            request_format="json",
            status="active",
            subscriptions=["conditional_ticket_events"],
        )
        with self._call("webhooks.create") as client:
            return client.webhooks.create(hook).to_dict()

    def webhook_signing_secret(self, webhook_id: str) -> str:
        with self._call("webhooks.signing_secret") as client:
            secret = client.webhooks.show_secret(webhook_id)
        return secret["secret"] if isinstance(secret, Mapping) else secret.secret

    def list_triggers(self) -> list[dict[str, Any]]:
        with self._call("triggers.list") as client:
            return [t.to_dict() for t in client.triggers()]

    def create_trigger(
        self, *, title: str, conditions: dict[str, Any], actions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        with self._call("triggers.create") as client:
            return client.triggers.create(
                ZTrigger(title=title, conditions=conditions, actions=actions)
            ).to_dict()

    def delete_webhook(self, webhook_id: str) -> bool:
        """Delete our webhook (disconnect); False when it was already gone (404)."""
        try:
            with self._call("webhooks.delete") as client:
                client.webhooks.delete(ZWebhook(id=str(webhook_id)))
        except PermanentError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete_trigger(self, trigger_id: int) -> bool:
        """Delete our trigger (disconnect); False when it was already gone (404)."""
        try:
            with self._call("triggers.delete") as client:
                client.triggers.delete(ZTrigger(id=int(trigger_id)))
        except PermanentError as exc:
            if exc.status == 404:
                return False
            raise
        return True


# --- mapping to our dataclasses -------------------------------------------------------------------
def _users(data: Mapping[str, Any]) -> dict[Any, Mapping[str, Any]]:
    return {u["id"]: u for u in data.get("users") or ()}


def _latest_comments(audits: Any, api_user_id: frozenset[int] | None) -> dict[int, Comment]:
    """Ticket id → the comment of its latest audit, for the tickets whose latest audit added one.

    ``last_audits`` holds each ticket's most recent audit (``ticket_id``, ``author_id``,
    ``created_at``, ``via``, ``events``); a ``Comment`` event carries ``id``, ``author_id``,
    ``body``/``plain_body`` and ``public`` but no time or channel, which the audit supplies.
    """
    out: dict[int, Comment] = {}
    for audit in audits or ():
        comments = [
            e for e in audit.get("events") or () if e.get("type") == "Comment" and e.get("id")
        ]
        if not comments or audit.get("ticket_id") is None:
            continue
        event = comments[-1]
        via = audit.get("via") or {}
        body = event.get("body") or event.get("plain_body") or ""
        author = event.get("author_id", audit.get("author_id"))
        out[int(audit["ticket_id"])] = Comment(
            id=int(event["id"]),
            author_id=author,
            public=bool(event.get("public")),
            body=body,
            created_at=parse_time(audit.get("created_at")),
            via_channel=(via.get("channel") if isinstance(via, Mapping) else "") or "",
            by_deskguard=is_deskguard_comment(body, author, api_user_id),
        )
    return out


def _ticket(
    t: Mapping[str, Any],
    users: Mapping[Any, Mapping[str, Any]],
    comments: tuple[Comment, ...],
    *,
    complete: bool = True,
) -> Ticket:
    requester = users.get(t.get("requester_id")) or {}
    via = t.get("via") or {}
    return Ticket(
        id=int(t["id"]),
        subject=t.get("subject") or t.get("raw_subject") or "",
        requester=Person(
            t.get("requester_id"), requester.get("name") or "", requester.get("email") or ""
        ),
        status=t.get("status") or "",
        tags=tuple(t.get("tags") or ()),
        custom_fields={int(f["id"]): f.get("value") for f in t.get("custom_fields") or ()},
        channel=(via.get("channel") if isinstance(via, Mapping) else "") or "",
        priority=t.get("priority"),
        created_at=parse_time(t.get("created_at")),
        updated_at=parse_time(t.get("updated_at")),
        comments=comments,
        comments_complete=complete,
    )


def _description(t: Mapping[str, Any], api_user_id: frozenset[int] | None) -> Comment:
    """The ticket's description as a comment.

    Its id is 0: the export and show_many carry no comment ids.
    """
    body = t.get("description") or ""
    author = t.get("submitter_id")
    via = t.get("via") or {}
    return Comment(
        id=0,
        author_id=author,
        public=bool(t.get("is_public", True)),
        body=body,
        created_at=parse_time(t.get("created_at")),
        via_channel=(via.get("channel") if isinstance(via, Mapping) else "") or "",
        by_deskguard=is_deskguard_comment(body, author, api_user_id),
    )


def _api_error(operation: str, exc: APIException, retry_after: float | None) -> Exception:
    response = getattr(exc, "response", None)
    status = response.status_code if response is not None else None
    detail = ""
    if response is not None:
        try:
            body = response.json()
            detail = " ".join(str(body.get(k, "")) for k in ("error", "description") if body.get(k))
        except ValueError:
            detail = ""
    message = f"zendesk {operation}: HTTP {status} {detail}".strip()
    if status in _RETRYABLE:
        return TransientError(
            message,
            vendor=VENDOR,
            status=status,
            retry_after=retry_after if status == 429 else None,
        )
    return PermanentError(message, vendor=VENDOR, status=status)


def _apis(client: Zenpy) -> list[BaseApi]:
    return [v for v in vars(client).values() if isinstance(v, BaseApi)]


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
