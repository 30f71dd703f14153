"""API keys and roles. A key is shown once when created; only its SHA-256 is stored (keys are
32 random bytes, so a fast hash is enough: there is nothing to brute-force).

Roles: anonymous (no key) sees public documents; member, staff and admin see members-only
documents too; staff and admin may add, remove and re-classify documents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel

from kb.errors import KBError
from kb.types import EVERYONE, MEMBERS, Access

KEY_PREFIX = "kb_"


class Role(StrEnum):
    anonymous = "anonymous"
    member = "member"
    staff = "staff"
    admin = "admin"

    @property
    def access(self) -> tuple[Access, ...]:
        """The access levels this role may read."""
        return EVERYONE if self is Role.anonymous else MEMBERS

    @property
    def may_edit(self) -> bool:
        return self in (Role.staff, Role.admin)


class KeyInfo(BaseModel):
    name: str
    role: Role
    created: dt.datetime
    revoked: dt.datetime | None = None


class Caller(BaseModel):
    """Who is asking: a role, and the key's name when there is one."""

    role: Role = Role.anonymous
    name: str | None = None


class InvalidKey(KBError):
    """A key that is unknown or revoked: refused, never treated as anonymous."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._path = data_dir / "keys.sqlite"
        self._secret: bytes | None = None
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS keys (name TEXT PRIMARY KEY, role TEXT NOT NULL, "
                "digest TEXT NOT NULL UNIQUE, created TEXT NOT NULL, revoked TEXT)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def _link_secret(self) -> bytes:
        if self._secret is None:
            path = self._path.with_name("link-secret")
            try:  # created once, by whichever process or thread comes first
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
            except FileExistsError:
                pass
            self._secret = path.read_bytes()
        return self._secret

    def sign_link(self, doc_id: str, seconds: int = 3600) -> str:
        """A token that opens one document's file for a while, for links shown to a signed-in
        reader (a browser following a link sends no API key)."""
        expires = int(time.time()) + seconds
        mac = hmac.new(self._link_secret(), f"{doc_id}:{expires}".encode(), "sha256").hexdigest()
        return f"{expires}.{mac[:32]}"

    def check_link(self, doc_id: str, token: str) -> bool:
        expires, _, mac = token.partition(".")
        if not (expires.isascii() and expires.isdigit()) or int(expires) < time.time():
            return False
        wanted = hmac.new(self._link_secret(), f"{doc_id}:{expires}".encode(), "sha256").hexdigest()
        # Bytes, not text: compare_digest refuses non-ASCII strings (a 500 for a crafted token).
        return hmac.compare_digest(mac.encode("utf-8", "replace"), wanted[:32].encode())

    def create(self, role: Role, name: str) -> str:
        """A new key for `name`; the key itself is returned once and never stored."""
        if role is Role.anonymous:
            raise KBError("Anonymous access needs no key.")
        name = name.strip()
        if not name:
            raise KBError("A key needs a name (who or what it is for).")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO keys (name, role, digest, created) VALUES (?, ?, ?, ?)",
                    (name, role.value, _digest(key), now),
                )
        except sqlite3.IntegrityError as e:
            raise KBError(
                f"A key named '{name}' exists already; revoke it or pick another name."
            ) from e
        return key

    def list(self) -> list[KeyInfo]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT name, role, created, revoked FROM keys ORDER BY created"
            ).fetchall()
        return [KeyInfo(name=n, role=Role(r), created=c, revoked=v) for n, r, c, v in rows]

    def revoke(self, name: str) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with self._connect() as db:
            changed = db.execute(
                "UPDATE keys SET revoked = ? WHERE name = ? AND revoked IS NULL", (now, name)
            ).rowcount
        if not changed:
            raise KBError(f"No active key named '{name}'.")

    def caller(self, key: str | None) -> Caller:
        """The caller a key stands for; no key is anonymous; a bad or revoked key is refused."""
        if key is None:
            return Caller()
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, revoked FROM keys WHERE digest = ?", (_digest(key.strip()),)
            ).fetchone()
        if row is None:
            raise InvalidKey("Unknown API key.")
        if row[2] is not None:
            raise InvalidKey("This API key has been revoked.")
        return Caller(role=Role(row[1]), name=row[0])
