"""Secrets at rest: tokens and API keys in SQLite, encrypted with MultiFernet.

``DESKGUARD_SECRET_KEYS`` is a comma list of Fernet keys; the first encrypts, every key
decrypts. Rotation: prepend a new key, run ``deskguard secrets rotate`` (re-encrypts every row
under the first key), then drop the old key. Plaintext never reaches a log: ``SecretValue``
masks itself in ``repr``/``str``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connector import audit
from connector.audit import now_iso
from connector.db import table_names, transaction
from connector.errors import ConfigError


class SecretValue(str):
    """A str that never prints itself."""

    def __repr__(self) -> str:
        return "SecretValue('********')"

    def reveal(self) -> str:
        return str.__str__(self)


def new_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    def __init__(self, keys: Sequence[str] | None):
        if not keys:
            raise ConfigError(
                "DESKGUARD_SECRET_KEYS is not set: generate a key with `deskguard secrets new-key` "
                "and put it in .env"
            )
        fernets = []
        for i, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.encode() if isinstance(key, str) else key))
            except (ValueError, TypeError):
                raise ConfigError(
                    f"DESKGUARD_SECRET_KEYS key #{i} is malformed: each key must be 32 url-safe "
                    "base64-encoded bytes (use `deskguard secrets new-key`)"
                ) from None
        self._multi = MultiFernet(fernets)

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> SecretValue:
        try:
            return SecretValue(self._multi.decrypt(token.encode()).decode())
        except InvalidToken:
            raise ConfigError(
                "a stored secret cannot be decrypted with DESKGUARD_SECRET_KEYS "
                "(was the key that encrypted it removed?)"
            ) from None

    def rotate_token(self, token: str) -> str:
        return self._multi.rotate(token.encode()).decode()


# Encrypted values that live outside the ``secrets`` table: (table, column). A marketplace Shopify
# install holds its offline token here until an admin links the shop to a tenant.
OTHER_ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (("shopify_installs", "token_ciphertext"),)


class SecretStore:
    """Per-tenant named secrets in the ``secrets`` table."""

    def __init__(self, box: SecretBox):
        self.box = box

    def put(self, db: sqlite_utils.Database, tenant_id: str, name: str, value: str) -> None:
        with transaction(db):
            db.conn.execute(
                "INSERT INTO secrets (tenant_id, name, ciphertext, updated_at) VALUES (?,?,?,?)"
                " ON CONFLICT (tenant_id, name) DO UPDATE SET ciphertext = excluded.ciphertext,"
                " updated_at = excluded.updated_at",
                (tenant_id, name, self.box.encrypt(value), now_iso()),
            )
            audit.record(db, tenant_id, audit.SecretStored(name=name))

    def get(self, db: sqlite_utils.Database, tenant_id: str, name: str) -> SecretValue | None:
        row = db.conn.execute(
            "SELECT ciphertext FROM secrets WHERE tenant_id = ? AND name = ?", (tenant_id, name)
        ).fetchone()
        return self.box.decrypt(row[0]) if row else None

    def delete(self, db: sqlite_utils.Database, tenant_id: str, name: str) -> bool:
        with transaction(db):
            cur = db.conn.execute(
                "DELETE FROM secrets WHERE tenant_id = ? AND name = ?", (tenant_id, name)
            )
            return cur.rowcount > 0

    def _rotate_other_columns(self, db: sqlite_utils.Database) -> int:
        """Re-encrypt the encrypted columns kept outside ``secrets`` (tables a ledger may not
        have yet are skipped)."""
        count = 0
        tables = table_names(db)
        for table, column in OTHER_ENCRYPTED_COLUMNS:
            if table not in tables:
                continue
            tokens = db.conn.execute(
                f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"
            ).fetchall()
            # A Fernet token is unique (random IV), so the old token names its row on any engine.
            for (token,) in tokens:
                cur = db.conn.execute(
                    f"UPDATE {table} SET {column} = ? WHERE {column} = ?",
                    (self.box.rotate_token(token), token),
                )
                count += cur.rowcount
        return count

    def rotate(self, db: sqlite_utils.Database) -> int:
        """Re-encrypt every stored secret under the first key; returns the count."""
        count = 0
        with transaction(db):
            for tenant_id, name, token in db.conn.execute(
                "SELECT tenant_id, name, ciphertext FROM secrets"
            ).fetchall():
                db.conn.execute(
                    "UPDATE secrets SET ciphertext = ?, updated_at = ?"
                    " WHERE tenant_id = ? AND name = ?",
                    (self.box.rotate_token(token), now_iso(), tenant_id, name),
                )
                count += 1
            count += self._rotate_other_columns(db)
            tenants = {r[0] for r in db.conn.execute("SELECT DISTINCT tenant_id FROM secrets")}
            for tenant_id in sorted(tenants):
                audit.record(db, tenant_id, audit.SecretsRotated(count=count))
        return count
