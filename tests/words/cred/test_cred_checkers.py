from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from words.cred.checkers import (
    AllowAnonymousAccess,
    FilePasswordDB,
    InMemoryUsernamePasswordDatabase,
)
from words.cred.credentials import Anonymous, UsernamePassword
from words.cred.errors import UnauthorizedLogin, UnknownUser
from words.cred.hashing import PasswordHasher

FAST = PasswordHasher(ln=4)
ALICE_HASH = FAST.hash("wonderland")


@dataclass(frozen=True)
class CountingHasher(PasswordHasher):
    """Counts sync verifies: a real verify and the dummy one both go through here."""

    calls: list[str] = field(default_factory=list, compare=False)

    def verify(self, password: str, phc: str) -> bool:
        self.calls.append(phc)
        return super().verify(password, phc)


def creds(username: str, password: str) -> UsernamePassword:
    return UsernamePassword(username, password)


def test_password_not_in_repr() -> None:
    assert "hunter2" not in repr(creds("alice", "hunter2"))
    assert "alice" in repr(creds("alice", "hunter2"))


# In-memory database


async def test_memory_checker() -> None:
    db = InMemoryUsernamePasswordDatabase({"alice": "wonderland"}, hasher=FAST)
    assert await db.request_avatar_id(creds("alice", "wonderland")) == "alice"
    with pytest.raises(UnauthorizedLogin) as info:
        await db.request_avatar_id(creds("alice", "looking-glass"))
    assert not isinstance(info.value, UnknownUser)
    with pytest.raises(UnknownUser):
        await db.request_avatar_id(creds("bob", "wonderland"))


async def test_memory_checker_keeps_given_hashes() -> None:
    db = InMemoryUsernamePasswordDatabase(hasher=FAST)
    db.add_user("alice", ALICE_HASH)
    assert await db.request_avatar_id(creds("alice", "wonderland")) == "alice"
    with pytest.raises(UnauthorizedLogin):
        await db.request_avatar_id(creds("alice", ALICE_HASH))


async def test_memory_checker_case_insensitive() -> None:
    db = InMemoryUsernamePasswordDatabase(
        {"Alice": "wonderland"}, hasher=FAST, case_sensitive=False
    )
    assert await db.request_avatar_id(creds("ALICE", "wonderland")) == "Alice"
    strict = InMemoryUsernamePasswordDatabase({"Alice": "wonderland"}, hasher=FAST)
    with pytest.raises(UnknownUser):
        await strict.request_avatar_id(creds("alice", "wonderland"))


async def test_unknown_user_costs_one_verify_like_a_wrong_password() -> None:
    hasher = CountingHasher(ln=4)
    db = InMemoryUsernamePasswordDatabase({"alice": "wonderland"}, hasher=hasher)
    with pytest.raises(UnauthorizedLogin):
        await db.request_avatar_id(creds("alice", "nope"))
    assert len(hasher.calls) == 1
    with pytest.raises(UnknownUser):
        await db.request_avatar_id(creds("mallory", "nope"))
    assert len(hasher.calls) == 2
    assert hasher.calls[1] != hasher.calls[0]  # the dummy hash, not alice's


# Password file


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


async def test_file_db_hashed_plaintext_comments_and_bad_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "passwd"
    path.write_bytes(
        (
            "# words password file\n"
            "\n"
            f"alice:{ALICE_HASH}\n"
            "bob:builder\n"
            "garbage-without-delimiter\n"
            "dave:\n"
        ).encode()
        + b"\xff\xfe:oops\n"
        + b"carol:s3cret\r\n"
    )
    db = FilePasswordDB(path, hasher=FAST)
    assert await db.request_avatar_id(creds("alice", "wonderland")) == "alice"
    assert await db.request_avatar_id(creds("bob", "builder")) == "bob"
    assert await db.request_avatar_id(creds("carol", "s3cret")) == "carol"
    with pytest.raises(UnauthorizedLogin):
        await db.request_avatar_id(creds("bob", "builder2"))
    with pytest.raises(UnknownUser):
        await db.request_avatar_id(creds("dave", ""))

    messages = [r.getMessage() for r in caplog.records]
    assert any(f"{path}:5:" in m for m in messages)  # no delimiter
    assert any(f"{path}:6:" in m for m in messages)  # empty password
    assert any(f"{path}:7:" in m for m in messages)  # not UTF-8
    plaintext = [m for m in messages if "plaintext password" in m]
    # One warning per load (not per check), and never a password in any log.
    assert plaintext == [f"{path}: 2 plaintext password(s); replace them with scrypt hashes"]
    assert not any("builder" in m or "s3cret" in m for m in messages)


async def test_file_db_custom_delimiter_and_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "users", f"1001|alice|{ALICE_HASH}|extra\n1002|bob|builder\n")
    db = FilePasswordDB(path, delim="|", username_field=1, password_field=2, hasher=FAST)
    assert await db.request_avatar_id(creds("alice", "wonderland")) == "alice"
    assert await db.request_avatar_id(creds("bob", "builder")) == "bob"
    with pytest.raises(UnknownUser):
        await db.request_avatar_id(creds("1001", "alice"))


async def test_file_db_case_insensitive(tmp_path: Path) -> None:
    path = write(tmp_path / "passwd", f"Alice:{ALICE_HASH}\n")
    db = FilePasswordDB(path, case_sensitive=False, hasher=FAST)
    assert await db.request_avatar_id(creds("aLiCe", "wonderland")) == "Alice"
    strict = FilePasswordDB(path, hasher=FAST)
    with pytest.raises(UnknownUser):
        await strict.request_avatar_id(creds("alice", "wonderland"))


async def test_file_db_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = write(tmp_path / "passwd", "alice:password1\n")
    cached = FilePasswordDB(path, hasher=FAST)
    uncached = FilePasswordDB(path, cache=False, hasher=FAST)
    assert await cached.request_avatar_id(creds("alice", "password1")) == "alice"
    assert await uncached.request_avatar_id(creds("alice", "password1")) == "alice"
    before = path.stat()

    # Same size and mtime: the cache cannot tell, a cache-less db reads anew.
    write(path, "alice:password2\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert await cached.request_avatar_id(creds("alice", "password1")) == "alice"
    assert await uncached.request_avatar_id(creds("alice", "password2")) == "alice"

    # A newer mtime makes the cache reload.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    assert await cached.request_avatar_id(creds("alice", "password2")) == "alice"
    with pytest.raises(UnauthorizedLogin):
        await cached.request_avatar_id(creds("alice", "password1"))

    # So does a new size, even with the mtime unchanged.
    current = path.stat()
    write(path, "alice:password2\nbob:builder\n")
    os.utime(path, ns=(current.st_atime_ns, current.st_mtime_ns))
    assert await cached.request_avatar_id(creds("bob", "builder")) == "bob"


async def test_file_db_missing_file_refuses_everyone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "absent"
    db = FilePasswordDB(path, hasher=FAST)
    with pytest.raises(UnauthorizedLogin) as info:
        await db.request_avatar_id(creds("alice", "wonderland"))
    assert not isinstance(info.value, UnknownUser)
    assert any(r.levelno == logging.ERROR and str(path) in r.getMessage() for r in caplog.records)

    # The file vanishing after a good load also refuses, rather than using stale data.
    write(path, f"alice:{ALICE_HASH}\n")
    assert await db.request_avatar_id(creds("alice", "wonderland")) == "alice"
    path.unlink()
    with pytest.raises(UnauthorizedLogin):
        await db.request_avatar_id(creds("alice", "wonderland"))


async def test_file_db_unknown_user_runs_a_dummy_verify(tmp_path: Path) -> None:
    hasher = CountingHasher(ln=4)
    path = write(tmp_path / "passwd", f"alice:{ALICE_HASH}\nbob:builder\n")
    db = FilePasswordDB(path, hasher=hasher)
    cases = [("alice", UnauthorizedLogin), ("bob", UnauthorizedLogin), ("mallory", UnknownUser)]
    for username, error in cases:
        hasher.calls.clear()
        with pytest.raises(error):
            await db.request_avatar_id(creds(username, "nope"))
        assert len(hasher.calls) == 1, username


def test_file_db_rejects_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        FilePasswordDB(tmp_path / "passwd", delim="")
    with pytest.raises(ValueError):
        FilePasswordDB(tmp_path / "passwd", username_field=1, password_field=1)


# Anonymous


async def test_anonymous() -> None:
    checker = AllowAnonymousAccess()
    assert checker.credential_interfaces == (Anonymous,)
    assert await checker.request_avatar_id(Anonymous("guest42")) == "guest42"
