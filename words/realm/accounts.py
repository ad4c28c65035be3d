"""Accounts of the words realm, and the in-memory account store.

An account is what a user logs in to (with a password, a certificate or a
SCRAM exchange); a user is who is online under a nick. The SQL store
(words.store.AccountStore) has the same async interface.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace


class DuplicateAccount(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    password_hash: str = field(repr=False)
    created: float
    last_seen: float | None = None
    fingerprints: tuple[str, ...] = ()  # SHA-256 of TLS client certificates, lower-case hex
    scram: str | None = field(default=None, repr=False)  # SCRAM-SHA-256 verifier


class MemoryAccountStore:
    """Accounts in a dict: they last until the process ends."""

    def __init__(self, casefold: Callable[[str], str]) -> None:
        self.casefold = casefold
        self._accounts: dict[str, Account] = {}
        self._jids: dict[str, str] = {}  # bare JID -> folded account name (XMPP gateway links)

    async def create(self, name: str, password_hash: str, *, scram: str | None = None) -> Account:
        folded = self.casefold(name)
        if folded in self._accounts:
            raise DuplicateAccount(name)
        account = self._accounts[folded] = Account(name, password_hash, time.time(), scram=scram)
        return account

    async def get(self, name: str) -> Account | None:
        return self._accounts.get(self.casefold(name))

    async def find_by_fingerprint(self, fingerprint: str) -> Account | None:
        fingerprint = fingerprint.lower()
        return next((a for a in self._accounts.values() if fingerprint in a.fingerprints), None)

    async def all(self) -> list[Account]:
        return [self._accounts[k] for k in sorted(self._accounts)]

    async def set_password(self, name: str, password_hash: str, *, scram: str | None = None) -> bool:
        return self._change(name, password_hash=password_hash, scram=scram)

    async def touch(self, name: str) -> bool:
        return self._change(name, last_seen=time.time())

    async def delete(self, name: str) -> bool:
        folded = self.casefold(name)
        self._jids = {jid: acct for jid, acct in self._jids.items() if acct != folded}
        return self._accounts.pop(folded, None) is not None

    async def link_jid(self, jid: str, name: str) -> bool:
        """Bind the bare `jid` to the account (replacing an older link); False if no account."""
        folded = self.casefold(name)
        if folded not in self._accounts:
            return False
        self._jids[jid.lower()] = folded
        return True

    async def unlink_jid(self, jid: str) -> bool:
        return self._jids.pop(jid.lower(), None) is not None

    async def account_for_jid(self, jid: str) -> str | None:
        """The stored spelling of the account `jid` is linked to, or None."""
        account = self._accounts.get(self._jids.get(jid.lower(), ""))
        return account.name if account is not None else None

    async def add_fingerprint(self, name: str, fingerprint: str) -> bool:
        fingerprint = fingerprint.lower()
        if await self.find_by_fingerprint(fingerprint) is not None:
            return False
        account = self._accounts.get(self.casefold(name))
        return account is not None and self._change(
            name, fingerprints=tuple(sorted((*account.fingerprints, fingerprint)))
        )

    async def remove_fingerprint(self, name: str, fingerprint: str) -> bool:
        account = self._accounts.get(self.casefold(name))
        if account is None or fingerprint.lower() not in account.fingerprints:
            return False
        return self._change(
            name, fingerprints=tuple(f for f in account.fingerprints if f != fingerprint.lower())
        )

    def _change(self, name: str, **values) -> bool:
        folded = self.casefold(name)
        account = self._accounts.get(folded)
        if account is None:
            return False
        self._accounts[folded] = replace(account, **values)
        return True
