"""The decision policy: defaults from the policy file, per-tenant overrides from admin settings.

The effective policy is the policy file (``connector/pipeline/policy_defaults.json`` or the file
named by ``DESKGUARD_POLICY_FILE``, JSON or TOML) deep-merged with the tenant setting ``policy``
(a partial document of the same shape). The tenant setting ``default_mode`` (default "shadow")
is the mode of every category that has no explicit ``mode``. Every change goes through
``connector.tenants.set_setting`` and is therefore audited with who made it and why.
"""

from __future__ import annotations

import copy
import functools
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from connector import audit
from connector.db import transaction
from connector.domain import CATEGORIES, MODES
from connector.errors import BadRequest, ConfigError, DeskguardError
from connector.pipeline.events import GoLiveOverridden
from connector.tenants import get_setting, set_setting

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy_defaults.json")
POLICY_SETTING = "policy"
DEFAULT_MODE_SETTING = "default_mode"


class GoLiveBlocked(DeskguardError):
    """A category may not switch to auto yet (agreement too low or too few tickets)."""

    http_status = 409
    code = "go_live_blocked"


@functools.lru_cache(maxsize=8)
def _load_file(path: str) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"DESKGUARD_POLICY_FILE: cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"DESKGUARD_POLICY_FILE: {path} is not valid {p.suffix[1:] or 'json'}: {exc}"
        ) from None
    data.pop("_comment", None)
    problems = validate(data, complete=True)
    if problems:
        raise ConfigError(f"DESKGUARD_POLICY_FILE: {path}: " + "; ".join(problems))
    return data


def defaults(path: str | Path | None = None) -> dict[str, Any]:
    """A fresh copy of the policy file's contents."""
    return copy.deepcopy(_load_file(str(path or DEFAULT_POLICY_FILE)))


def deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _is_prob(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def validate(doc: Mapping[str, Any], *, complete: bool = False) -> list[str]:
    """Problems with a policy document (a full file when ``complete``, else a partial override)."""
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        return ["policy must be an object"]
    if "default_mode" in doc and doc["default_mode"] not in MODES:
        problems.append(f"default_mode must be one of {', '.join(MODES)}")
    if "auto_min_confidence" in doc and not _is_prob(doc["auto_min_confidence"]):
        problems.append("auto_min_confidence must be between 0 and 1")
    caps = doc.get("caps", {})
    for name in ("auto_replies_per_hour", "auto_replies_per_day"):
        if name in caps and not _is_count(caps[name]):
            problems.append(f"caps.{name} must be a whole number ≥ 0")
    golive = doc.get("go_live", {})
    if "min_agreement" in golive and not _is_prob(golive["min_agreement"]):
        problems.append("go_live.min_agreement must be between 0 and 1")
    if "min_tickets" in golive and not _is_count(golive["min_tickets"]):
        problems.append("go_live.min_tickets must be a whole number ≥ 0")
    esc = doc.get("escalation", {})
    if "min_confidence" in esc and not _is_prob(esc["min_confidence"]):
        problems.append("escalation.min_confidence must be between 0 and 1")
    if "negative_sentiment_at_or_below" in esc and not (
        isinstance(esc["negative_sentiment_at_or_below"], (int, float))
        and -1.0 <= esc["negative_sentiment_at_or_below"] <= 1.0
    ):
        problems.append("escalation.negative_sentiment_at_or_below must be between -1 and 1")
    for key in ("urgencies", "vip_tags", "risk_flags"):
        if key in esc and not (
            isinstance(esc[key], list) and all(isinstance(v, str) for v in esc[key])
        ):
            problems.append(f"escalation.{key} must be a list of strings")
    for key in ("vip_lifetime_spend", "repeat_contact_window_days"):
        if key in esc and not (
            isinstance(esc[key], (int, float)) and not isinstance(esc[key], bool) and esc[key] >= 0
        ):
            problems.append(f"escalation.{key} must be a number ≥ 0")
    if "repeat_contact_prior_contacts" in esc and not _is_count(
        esc["repeat_contact_prior_contacts"]
    ):
        problems.append(
            "escalation.repeat_contact_prior_contacts must be a whole number ≥ 0 (0 turns it off)"
        )
    if "agent_category_tag_prefix" in golive and not (
        isinstance(golive["agent_category_tag_prefix"], str) and golive["agent_category_tag_prefix"]
    ):
        problems.append("go_live.agent_category_tag_prefix must be a non-empty string")
    answers = doc.get("answers", {})
    if not isinstance(answers, Mapping) or not all(
        c in CATEGORIES and isinstance(t, str) for c, t in answers.items()
    ):
        problems.append("answers must map category ids to the store's answer text")
    cats = doc.get("categories", {})
    if not isinstance(cats, Mapping):
        return [*problems, "categories must be an object"]
    for cat, spec in cats.items():
        if cat not in CATEGORIES:
            problems.append(f"unknown category {cat!r}")
            continue
        if not isinstance(spec, Mapping):
            problems.append(f"categories.{cat} must be an object")
            continue
        if "mode" in spec and spec["mode"] not in MODES:
            problems.append(f"categories.{cat}.mode must be one of {', '.join(MODES)}")
        if "min_confidence" in spec and not _is_prob(spec["min_confidence"]):
            problems.append(f"categories.{cat}.min_confidence must be between 0 and 1")
        if "rollout_percent" in spec and not (
            isinstance(spec["rollout_percent"], (int, float))
            and 0 <= spec["rollout_percent"] <= 100
        ):
            problems.append(f"categories.{cat}.rollout_percent must be between 0 and 100")
        unknown = [p for p in spec.get("prerequisites", []) if p not in known_prerequisites()]
        if unknown:
            problems.append(f"categories.{cat}.prerequisites: unknown {', '.join(unknown)}")
    if complete:
        missing = [c for c in CATEGORIES if c not in cats]
        if missing:
            problems.append("categories missing: " + ", ".join(missing))
    return problems


# The per-category conditions a policy may name; connector/pipeline/rules.py implements each
# (PREREQUISITES there; a test checks the two agree).
PREREQUISITE_NAMES = ("single_order_with_tracking", "tenant_answer")


def known_prerequisites() -> set[str]:
    return set(PREREQUISITE_NAMES)


@dataclass(frozen=True)
class CategoryPolicy:
    category: str
    mode: str
    auto_allowed: bool
    min_confidence: float
    prerequisites: tuple[str, ...]
    rollout_percent: float


@dataclass(frozen=True)
class Policy:
    """The effective policy of one tenant at one moment."""

    doc: dict[str, Any]
    default_mode: str

    def category(self, category: str) -> CategoryPolicy:
        spec = self.doc["categories"].get(category) or self.doc["categories"]["other"]
        return CategoryPolicy(
            category=category,
            mode=spec.get("mode", self.default_mode),
            auto_allowed=bool(spec.get("auto_allowed", False)),
            min_confidence=float(spec.get("min_confidence", self.doc["auto_min_confidence"])),
            prerequisites=tuple(spec.get("prerequisites", ())),
            rollout_percent=float(spec.get("rollout_percent", 100)),
        )

    @property
    def escalation(self) -> dict[str, Any]:
        section: dict[str, Any] = self.doc["escalation"]
        return section

    @property
    def caps(self) -> dict[str, int]:
        section: dict[str, int] = self.doc["caps"]
        return section

    @property
    def go_live(self) -> dict[str, Any]:
        section: dict[str, Any] = self.doc["go_live"]
        return section

    @property
    def answers(self) -> dict[str, str]:
        section: dict[str, str] = self.doc.get("answers", {})
        return section

    def modes(self) -> dict[str, str]:
        return {c: self.category(c).mode for c in CATEGORIES}


def load(
    db: sqlite_utils.Database, tenant_id: str, *, policy_file: str | Path | None = None
) -> Policy:
    doc = deep_merge(defaults(policy_file), get_setting(db, tenant_id, POLICY_SETTING, {}) or {})
    mode = get_setting(db, tenant_id, DEFAULT_MODE_SETTING, None) or doc.get(
        "default_mode", "shadow"
    )
    return Policy(doc=doc, default_mode=mode)


def update(
    db: sqlite_utils.Database,
    tenant_id: str,
    patch: Mapping[str, Any],
    *,
    actor: str,
    reason: str = "",
    override_reason: str | None = None,
    policy_file: str | Path | None = None,
) -> Policy:
    """Deep-merge ``patch`` into the tenant's overrides; refuses auto modes that fail the go-live
    gate."""
    problems = validate(patch)
    if problems:
        raise BadRequest("invalid policy: " + "; ".join(problems))
    with transaction(db):
        current = get_setting(db, tenant_id, POLICY_SETTING, {}) or {}
        before = load(db, tenant_id, policy_file=policy_file)
        overrides = deep_merge(current, patch)
        after = Policy(
            doc=deep_merge(defaults(policy_file), overrides), default_mode=before.default_mode
        )
        _check_go_live(db, tenant_id, before, after, actor=actor, override_reason=override_reason)
        set_setting(db, tenant_id, POLICY_SETTING, overrides, actor=actor, reason=reason)
    return load(db, tenant_id, policy_file=policy_file)


def set_default_mode(
    db: sqlite_utils.Database,
    tenant_id: str,
    mode: str,
    *,
    actor: str,
    reason: str = "",
    override_reason: str | None = None,
    policy_file: str | Path | None = None,
) -> Policy:
    if mode not in MODES:
        raise BadRequest(f"mode must be one of {', '.join(MODES)}")
    with transaction(db):
        before = load(db, tenant_id, policy_file=policy_file)
        after = Policy(doc=before.doc, default_mode=mode)
        _check_go_live(db, tenant_id, before, after, actor=actor, override_reason=override_reason)
        set_setting(db, tenant_id, DEFAULT_MODE_SETTING, mode, actor=actor, reason=reason)
    return load(db, tenant_id, policy_file=policy_file)


def set_category_modes(
    db: sqlite_utils.Database,
    tenant_id: str,
    modes: Mapping[str, str],
    *,
    actor: str,
    reason: str = "",
    override_reason: str | None = None,
    rollout_percent: Mapping[str, float] | None = None,
    policy_file: str | Path | None = None,
) -> Policy:
    """Set several categories' modes in one call; ``"*"`` means every category.

    Example (the demo): ``set_category_modes(db, "acme", {"*": "assist", "order_status": "auto"},
    actor="demo", override_reason="demo data")``.
    """
    expanded: dict[str, str] = {}
    if "*" in modes:
        expanded.update(dict.fromkeys(CATEGORIES, modes["*"]))
    expanded.update({c: m for c, m in modes.items() if c != "*"})
    patch: dict[str, Any] = {"categories": {c: {"mode": m} for c, m in expanded.items()}}
    for c, pct in (rollout_percent or {}).items():
        patch["categories"].setdefault(c, {})["rollout_percent"] = pct
    return update(
        db,
        tenant_id,
        patch,
        actor=actor,
        reason=reason,
        override_reason=override_reason,
        policy_file=policy_file,
    )


def _check_go_live(
    db: sqlite_utils.Database,
    tenant_id: str,
    before: Policy,
    after: Policy,
    *,
    actor: str,
    override_reason: str | None,
) -> None:
    from connector.pipeline.golive import go_live_status

    newly_auto = [
        c
        for c in CATEGORIES
        if after.category(c).mode == "auto" and before.category(c).mode != "auto"
    ]
    for category in newly_auto:
        status = go_live_status(db, tenant_id, category, after)
        if status.ready:
            continue
        reason = (override_reason or "").strip()
        if not reason:
            raise GoLiveBlocked(
                f"{category} cannot switch to auto yet: {status.explain()}. "
                "An admin may override with a recorded reason."
            )
        audit.record(
            db,
            tenant_id,
            GoLiveOverridden(
                category=category,
                actor=actor,
                reason=reason,
                agreement=status.agreement,
                tickets=status.tickets,
            ),
        )
