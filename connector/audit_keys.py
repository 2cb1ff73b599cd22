"""The keys of the audit chain: which key signs new rows, which keys verify old ones.

The chain is keyed (HMAC-SHA256) so that someone who can write the ledger file but does not hold
the key cannot re-chain edited rows. The key is never stored in the ledger. It comes from:

- ``DESKGUARD_AUDIT_KEYS`` when set: a comma list of url-safe base64 keys of 32+ bytes
  (`deskguard audit new-key`); the first signs new rows, every key verifies.
- otherwise, one key per ``DESKGUARD_SECRET_KEYS`` key, derived with HKDF-SHA256 (RFC 5869;
  ``info`` names the purpose, so the derived key is unrelated to the Fernet key it comes from).
  The first derived key signs. Keys derived from the secret keys also verify when
  ``DESKGUARD_AUDIT_KEYS`` is set, so a ledger keyed before that setting existed still verifies.

Each row names its key by a short id (the first 12 hex characters of a SHA-256 over the key),
so keys can be rotated without rewriting history: prepend a new key, keep the old ones.

A process registers the keyring of its ledger file once (``use_keys``, called by the runtime);
``for_db`` finds it again from a connection, so ``audit.record(db, ...)`` keeps its signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from connector.errors import ConfigError

HKDF_INFO = b"deskguard audit chain v1"
MIN_KEY_BYTES = 32


def new_key() -> str:
    """A fresh 256-bit key for DESKGUARD_AUDIT_KEYS (url-safe base64, no padding)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def decode_key(text: str) -> bytes:
    """The raw bytes of one DESKGUARD_AUDIT_KEYS entry; ValueError when malformed."""
    padded = text.strip() + "=" * (-len(text.strip()) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "each key must be url-safe base64 (use `deskguard audit new-key`)"
        ) from None
    if len(raw) < MIN_KEY_BYTES:
        raise ValueError(f"each key must decode to at least {MIN_KEY_BYTES} bytes")
    return raw


def derive_key(secret_key: str) -> bytes:
    """The audit key derived from one DESKGUARD_SECRET_KEYS entry (HKDF-SHA256, RFC 5869)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO)
    return hkdf.derive(secret_key.strip().encode("utf-8"))


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"deskguard-audit-key-id:" + key).hexdigest()[:12]


@dataclass(frozen=True)
class AuditKey:
    kid: str
    key: bytes = field(repr=False)
    source: str  # "DESKGUARD_AUDIT_KEYS #n" or "derived from DESKGUARD_SECRET_KEYS #n"

    def mac(self, message: str) -> str:
        return hmac.new(self.key, message.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Keyring:
    """Ordered keys: the first signs, all verify. Empty means no key is configured."""

    keys: tuple[AuditKey, ...] = ()

    @property
    def signer(self) -> AuditKey | None:
        return self.keys[0] if self.keys else None

    def get(self, kid: str) -> AuditKey | None:
        for key in self.keys:
            if key.kid == kid:
                return key
        return None

    def describe(self) -> list[dict[str, Any]]:
        """Key ids and where each comes from (never the key itself)."""
        return [
            {"key_id": k.kid, "source": k.source, "signs": i == 0} for i, k in enumerate(self.keys)
        ]

    @classmethod
    def from_settings(
        cls, audit_keys: Iterable[str] | None, secret_keys: Iterable[str] | None
    ) -> Keyring:
        """The keyring of a config. Malformed DESKGUARD_AUDIT_KEYS fail here, naming the setting
        (the settings table already refuses them when the config is loaded)."""
        keys: list[AuditKey] = []
        for i, text in enumerate(audit_keys or (), start=1):
            try:
                raw = decode_key(text)
            except ValueError as exc:
                raise ConfigError(f"DESKGUARD_AUDIT_KEYS key #{i} is malformed: {exc}") from None
            keys.append(AuditKey(key_id(raw), raw, f"DESKGUARD_AUDIT_KEYS #{i}"))
        for i, text in enumerate(secret_keys or (), start=1):
            if text and text.strip():
                raw = derive_key(text)
                keys.append(AuditKey(key_id(raw), raw, f"derived from DESKGUARD_SECRET_KEYS #{i}"))
        unique: dict[str, AuditKey] = {}
        for key in keys:
            unique.setdefault(key.kid, key)
        return cls(tuple(unique.values()))

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | Any) -> Keyring:
        return cls.from_settings(config["audit_keys"], config["secret_keys"])


# --- which keyring belongs to which ledger file ------------------------------------------------
_BY_PATH: dict[str, Keyring] = {}
_BY_DB: weakref.WeakKeyDictionary[sqlite_utils.Database, Keyring] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
MEMORY = ":memory:"


def _path_key(path: str) -> str:
    if path.startswith(("postgresql://", "postgres://")):
        return path
    return MEMORY if path in ("", MEMORY) else os.path.realpath(path)


def use_keys(db_path: str, keyring: Keyring) -> None:
    """Register the keyring that signs and verifies the chain of the ledger at ``db_path``.

    An empty keyring never replaces a registered one: a part of the process built without keys
    (a command run in-process, a helper runtime) must not turn keying off for the rest of it.
    """
    path = _path_key(str(db_path))
    with _LOCK:
        if not keyring.keys and _BY_PATH.get(path, Keyring()).keys:
            return
        _BY_PATH[path] = keyring
        _BY_DB.clear()  # connections cached under an earlier registration look again


def for_db(db: sqlite_utils.Database) -> Keyring:
    """The keyring registered for this connection's ledger file (empty when none was)."""
    with _LOCK:
        found = _BY_DB.get(db)
    if found is not None:
        return found
    location = getattr(db, "location", None)  # a PostgreSQL ledger: its URL
    if location is None:
        row = db.conn.execute("PRAGMA database_list").fetchone()
        location = row[2] if row else ""
    with _LOCK:
        found = _BY_PATH.get(_path_key(location or ""), Keyring())
        _BY_DB[db] = found
    return found
