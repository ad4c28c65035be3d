"""Checkers: turn credentials into an avatar ID, or refuse them.

A checker is any object with ``credential_interfaces`` (the credential types
it accepts) and ``async request_avatar_id(credentials) -> str``, which raises
UnknownUser when it does not know the user (the portal then asks the next
checker) and UnauthorizedLogin when it knows the user and says no.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from words.cred.credentials import Anonymous, UsernamePassword
from words.cred.errors import UnauthorizedLogin, UnknownUser
from words.cred.hashing import DEFAULT_HASHER, PasswordHasher

log = logging.getLogger(__name__)


class CredentialsChecker(Protocol):
    credential_interfaces: tuple[type, ...]

    async def request_avatar_id(self, credentials: Any) -> str: ...


def _plaintext_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


class InMemoryUsernamePasswordDatabase:
    """Users in a dict; only hashes are kept. For setup code and tests."""

    credential_interfaces: tuple[type, ...] = (UsernamePassword,)

    def __init__(
        self,
        users: Mapping[str, str] | None = None,
        *,
        hasher: PasswordHasher = DEFAULT_HASHER,
        case_sensitive: bool = True,
    ) -> None:
        self.hasher = hasher
        self.case_sensitive = case_sensitive
        self._users: dict[str, tuple[str, str]] = {}  # key -> (name, hash)
        for username, password in (users or {}).items():
            self.add_user(username, password)

    def _key(self, username: str) -> str:
        return username if self.case_sensitive else username.lower()

    def add_user(self, username: str, password: str) -> None:
        """Add or replace a user; ``password`` may already be a hash (kept as is)."""
        phc = password if self.hasher.is_hash(password) else self.hasher.hash(password)
        self._users[self._key(username)] = (username, phc)

    async def request_avatar_id(self, credentials: UsernamePassword) -> str:
        entry = self._users.get(self._key(credentials.username))
        if entry is None:
            await self.hasher.dummy_verify(credentials.password)
            raise UnknownUser("unknown user")
        name, phc = entry
        if not await self.hasher.verify_async(credentials.password, phc):
            raise UnauthorizedLogin("wrong password")
        return name


class AccountLookup(Protocol):
    """What AccountChecker needs from an account store: `get(name)` -> object with
    `.name` and `.password_hash`, or None."""

    async def get(self, name: str) -> Any: ...


class AccountChecker:
    """Passwords of the words realm's accounts (memory or SQL), by account name.

    The store's errors (a database that is down) pass through: that is not a
    wrong password, and the front end must say so.
    """

    credential_interfaces: tuple[type, ...] = (UsernamePassword,)

    def __init__(self, accounts: AccountLookup, *, hasher: PasswordHasher = DEFAULT_HASHER) -> None:
        self.accounts = accounts
        self.hasher = hasher

    async def request_avatar_id(self, credentials: UsernamePassword) -> str:
        account = await self.accounts.get(credentials.username)
        if account is None:
            await self.hasher.dummy_verify(credentials.password)
            raise UnknownUser("unknown user")
        if not await self.hasher.verify_async(credentials.password, account.password_hash):
            raise UnauthorizedLogin("wrong password")
        return account.name


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str  # as written in the file: the avatar ID
    secret: str
    hashed: bool


@dataclass(frozen=True, slots=True)
class _Loaded:
    signature: tuple[int, int]  # (mtime_ns, size) of the file that was read
    users: dict[str, _Entry]


class FilePasswordDB:
    """A password file in Twisted's FilePasswordDB format.

    One ``user<delim>password`` per line (fields chosen by index); blank lines
    and ``#`` comments are ignored. The password field should be a hash from
    words.cred.hashing; plaintext still works, with a warning. A bad line is
    skipped with a warning and never disables the other users.
    """

    credential_interfaces: tuple[type, ...] = (UsernamePassword,)

    def __init__(
        self,
        filename: str | os.PathLike[str],
        delim: str = ":",
        username_field: int = 0,
        password_field: int = 1,
        case_sensitive: bool = True,
        cache: bool = True,
        *,
        hasher: PasswordHasher = DEFAULT_HASHER,
    ) -> None:
        if not delim:
            raise ValueError("delim must not be empty")
        if username_field < 0 or password_field < 0 or username_field == password_field:
            raise ValueError("username_field and password_field must be distinct and >= 0")
        self.filename = os.fspath(filename)
        self.delim = delim
        self.username_field = username_field
        self.password_field = password_field
        self.case_sensitive = case_sensitive
        self.cache = cache
        self.hasher = hasher
        self._loaded: _Loaded | None = None

    def _key(self, username: str) -> str:
        return username if self.case_sensitive else username.lower()

    async def request_avatar_id(self, credentials: UsernamePassword) -> str:
        entry = (await self._users()).get(self._key(credentials.username))
        if entry is None:
            await self.hasher.dummy_verify(credentials.password)
            raise UnknownUser("unknown user")
        if entry.hashed:
            ok = await self.hasher.verify_async(credentials.password, entry.secret)
        else:
            # Spend a hash's time anyway, or a fast answer would tell
            # plaintext users apart from unknown ones.
            await self.hasher.dummy_verify(credentials.password)
            ok = _plaintext_equal(credentials.password, entry.secret)
        if not ok:
            raise UnauthorizedLogin("wrong password")
        return entry.name

    async def _users(self) -> dict[str, _Entry]:
        try:
            if self.cache and self._loaded is not None:
                st = os.stat(self.filename)
                if (st.st_mtime_ns, st.st_size) == self._loaded.signature:
                    return self._loaded.users
            loaded = await asyncio.to_thread(self._load)
        except OSError as exc:
            log.error("cannot read password file %s: %s", self.filename, exc.strerror or exc)
            raise UnauthorizedLogin("password file unavailable") from None
        if self.cache:
            self._loaded = loaded
        return loaded.users

    def _load(self) -> _Loaded:
        with open(self.filename, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read()
        users: dict[str, _Entry] = {}
        plaintext = 0
        needed = max(self.username_field, self.password_field) + 1
        # Bytes, decoded line by line: one badly encoded line must not
        # lock every user out.
        for lineno, raw in enumerate(data.splitlines(), start=1):
            try:
                line = raw.decode("utf-8").rstrip()
            except UnicodeDecodeError:
                log.warning("%s:%d: not UTF-8, line skipped", self.filename, lineno)
                continue
            if not line or line.lstrip().startswith("#"):
                continue
            parts = line.split(self.delim)
            if len(parts) < needed:
                log.warning("%s:%d: too few fields, line skipped", self.filename, lineno)
                continue
            name, secret = parts[self.username_field], parts[self.password_field]
            if not name or not secret:
                log.warning("%s:%d: empty user or password, line skipped", self.filename, lineno)
                continue
            key = self._key(name)
            if key in users:
                log.warning("%s:%d: duplicate user, line skipped", self.filename, lineno)
                continue
            hashed = self.hasher.is_hash(secret)
            plaintext += not hashed
            users[key] = _Entry(name, secret, hashed)
        if plaintext:
            log.warning(
                "%s: %d plaintext password(s); replace them with scrypt hashes",
                self.filename,
                plaintext,
            )
        return _Loaded((st.st_mtime_ns, st.st_size), users)


class AllowAnonymousAccess:
    """Lets anyone in under the name they ask for."""

    credential_interfaces: tuple[type, ...] = (Anonymous,)

    async def request_avatar_id(self, credentials: Anonymous) -> str:
        return credentials.name
