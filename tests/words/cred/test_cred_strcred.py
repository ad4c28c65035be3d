from __future__ import annotations

from pathlib import Path

import pytest

from words.cred.checkers import (
    AllowAnonymousAccess,
    FilePasswordDB,
    InMemoryUsernamePasswordDatabase,
)
from words.cred.credentials import UsernamePassword
from words.cred.errors import UnknownUser
from words.cred.hashing import PasswordHasher
from words.cred.strcred import AUTH_KINDS, AuthSpecError, help_auth, make_checker

FAST = PasswordHasher(ln=4)


async def test_memory() -> None:
    checker = make_checker("memory:alice:wonderland:bob:builder", hasher=FAST)
    assert isinstance(checker, InMemoryUsernamePasswordDatabase)
    assert await checker.request_avatar_id(UsernamePassword("bob", "builder")) == "bob"
    with pytest.raises(UnknownUser):
        await checker.request_avatar_id(UsernamePassword("carol", "builder"))


async def test_file(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text(f"alice:{FAST.hash('wonderland')}\n")
    checker = make_checker(f"file:{path}", hasher=FAST)
    assert isinstance(checker, FilePasswordDB)
    assert await checker.request_avatar_id(UsernamePassword("alice", "wonderland")) == "alice"


def test_anonymous() -> None:
    assert isinstance(make_checker("anonymous"), AllowAnonymousAccess)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("memory", "pairs"),
        ("memory:alice", "pairs"),
        ("memory:alice:hunter2:bob", "pairs"),
        ("memory::hunter2", "user name #1 is empty"),
        ("memory:alice:hunter2::hunter2", "user name #2 is empty"),
        ("memory:alice:", "empty password for user 'alice'"),
        ("memory:alice:hunter2:alice:hunter2", "'alice' given twice"),
        ("file:", "expected a path"),
        ("anonymous:hunter2", "takes no argument"),
    ],
)
def test_malformed_arguments(spec: str, message: str) -> None:
    with pytest.raises(AuthSpecError, match=message) as info:
        make_checker(spec, hasher=FAST)
    assert "hunter2" not in str(info.value)


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(AuthSpecError) as info:
        make_checker(f"file:{path}")
    assert str(path) in str(info.value)


def test_unknown_kind() -> None:
    with pytest.raises(AuthSpecError) as info:
        make_checker("unix")
    assert isinstance(info.value, ValueError)
    assert "'unix'" in str(info.value)
    assert all(kind in str(info.value) for kind in AUTH_KINDS)


def test_help_auth_lists_every_kind_with_an_example() -> None:
    text = help_auth()
    for kind in AUTH_KINDS:
        assert f"--auth {kind}" in text
