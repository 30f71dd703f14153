"""API keys on a real SQLite file: shown once, stored as a hash, revocable; signed links."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from kb.errors import KBError
from kb.keys import Caller, InvalidKey, KeyStore, Role
from kb.types import EVERYONE, MEMBERS


def test_a_key_gives_its_role_and_only_its_hash_is_kept(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    key = keys.create(Role.member, "Jane Doe (IOM)")
    assert keys.caller(key) == Caller(role=Role.member, name="Jane Doe (IOM)")
    assert keys.caller(None) == Caller()
    stored = sqlite3.connect(tmp_path / "keys.sqlite").execute("SELECT digest FROM keys").fetchall()
    assert key not in str(stored) and len(stored[0][0]) == 64


def test_unknown_and_revoked_keys_are_refused_never_anonymous(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    key = keys.create(Role.staff, "editor")
    with pytest.raises(InvalidKey, match="Unknown"):
        keys.caller(key + "x")
    keys.revoke("editor")
    with pytest.raises(InvalidKey, match="revoked"):
        keys.caller(key)
    with pytest.raises(KBError, match="No active key"):
        keys.revoke("editor")
    assert [k.revoked is not None for k in keys.list()] == [True]


def test_names_are_required_and_unique(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    keys.create(Role.admin, "ops")
    with pytest.raises(KBError, match="exists already"):
        keys.create(Role.member, "ops")
    with pytest.raises(KBError, match="needs a name"):
        keys.create(Role.member, "  ")
    with pytest.raises(KBError, match="no key"):
        keys.create(Role.anonymous, "nobody")


def test_roles_read_and_edit_what_they_should() -> None:
    assert Role.anonymous.access == EVERYONE and not Role.anonymous.may_edit
    assert Role.member.access == MEMBERS and not Role.member.may_edit
    assert Role.staff.may_edit and Role.admin.may_edit


def test_signed_links_open_one_document_until_they_expire(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    token = keys.sign_link("brief")
    assert keys.check_link("brief", token)
    assert not keys.check_link("other", token)
    assert not keys.check_link("brief", token[:-1] + ("0" if token[-1] != "0" else "1"))
    assert not keys.check_link("brief", keys.sign_link("brief", seconds=-1))
    assert not keys.check_link("brief", "garbage")
    # The secret is shared by every process over the same data directory.
    assert KeyStore(tmp_path).check_link("brief", token)
    assert time.time() < int(token.split(".")[0])
