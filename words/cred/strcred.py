"""Checkers from ``--auth`` strings, as in Twisted: ``kind[:argument]``."""

from __future__ import annotations

import os

from words.cred.checkers import (
    AllowAnonymousAccess,
    CredentialsChecker,
    FilePasswordDB,
    InMemoryUsernamePasswordDatabase,
)
from words.cred.hashing import DEFAULT_HASHER, PasswordHasher


class AuthSpecError(ValueError):
    """A bad ``--auth`` string. The message never repeats a password."""


AUTH_KINDS: dict[str, str] = {
    "memory": "user:password pairs inline (a toy: they show in the process list)",
    "file": "a password file, one user:password per line (hashes preferred)",
    "anonymous": "anyone may log in under the name they ask for, no password",
}

_EXAMPLES = {
    "memory": "memory:alice:s3cret:bob:hunter2",
    "file": "file:/etc/words/passwd",
    "anonymous": "anonymous",
}


def _memory(arg: str, hasher: PasswordHasher) -> CredentialsChecker:
    fields = arg.split(":")
    if not arg or len(fields) % 2:
        raise AuthSpecError("memory: expected user:password pairs (an odd number of fields)")
    users: dict[str, str] = {}
    for i in range(0, len(fields), 2):
        name, password = fields[i], fields[i + 1]
        if not name:
            raise AuthSpecError(f"memory: user name #{i // 2 + 1} is empty")
        if not password:
            raise AuthSpecError(f"memory: empty password for user {name!r}")
        if name in users:
            raise AuthSpecError(f"memory: user {name!r} given twice")
        users[name] = password
    return InMemoryUsernamePasswordDatabase(users, hasher=hasher)


def _file(arg: str, hasher: PasswordHasher) -> CredentialsChecker:
    if not arg:
        raise AuthSpecError("file: expected a path, as in file:/etc/words/passwd")
    # Checked now so a typo fails at startup, not at the first login.
    if not os.path.isfile(arg):
        raise AuthSpecError(f"file: no such password file: {arg}")
    return FilePasswordDB(arg, hasher=hasher)


def _anonymous(arg: str, hasher: PasswordHasher) -> CredentialsChecker:
    if arg:
        raise AuthSpecError("anonymous: takes no argument")
    return AllowAnonymousAccess()


_FACTORIES = {"memory": _memory, "file": _file, "anonymous": _anonymous}


def make_checker(spec: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> CredentialsChecker:
    """Build a checker from an auth string such as ``file:/etc/words/passwd``."""
    kind, _, arg = spec.partition(":")
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise AuthSpecError(
            f"unknown auth kind {kind!r}; valid kinds: {', '.join(AUTH_KINDS)}"
        )
    return factory(arg, hasher)


def help_auth() -> str:
    """The text of ``--help-auth``."""
    width = max(map(len, AUTH_KINDS))
    lines = ["Authentication kinds for --auth KIND[:ARGUMENT]:", ""]
    for kind, text in AUTH_KINDS.items():
        lines.append(f"  {kind:<{width}}  {text}")
        lines.append(f"  {'':<{width}}  e.g. --auth {_EXAMPLES[kind]}")
    return "\n".join(lines) + "\n"
