"""Logins vouched for by an XMPP server: a bare JID, and the checkers that admit one.

The XMPP gateway never sees a password for a JID: the user's own XMPP server
authenticated it, and the component trusts that server. Which words account
(if any) a JID stands for is decided here, by one of two rules:

- a trusted domain: every JID of `example.org` is the account of its local
  part (`alice@example.org` is `alice`), as configured;
- a link: the JID was bound to an account once, with the account's password
  (the gateway's in-band registration form), and the account store keeps it.

Other JIDs are unknown users; `JIDGuestChecker`, when configured after
`JIDChecker`, lets them in as guests (no account).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from words.cred.errors import UnknownUser


def bare_jid(jid: str) -> str:
    """`local@domain` of a JID, lower-cased as nodeprep and nameprep would for ASCII."""
    bare = jid.split("/", 1)[0]
    local, sep, domain = bare.rpartition("@")
    return f"{local.lower()}@{domain.lower()}" if sep else domain.lower()


@dataclass(frozen=True, slots=True)
class JIDCredentials:
    """A bare JID the XMPP server authenticated (the gateway only ever sees such JIDs)."""

    jid: str


class JIDLinks(Protocol):
    """What JIDChecker needs from an account store."""

    async def get(self, name: str) -> Any: ...
    async def account_for_jid(self, jid: str) -> str | None: ...


class JIDChecker:
    """Admits a JID of a trusted domain as its local part, or a linked JID as its account."""

    credential_interfaces: tuple[type, ...] = (JIDCredentials,)

    def __init__(self, accounts: JIDLinks, trusted_domains: Iterable[str] = ()) -> None:
        self.accounts = accounts
        self.trusted_domains = frozenset(d.lower() for d in trusted_domains)

    async def request_avatar_id(self, credentials: JIDCredentials) -> str:
        jid = bare_jid(credentials.jid)
        local, sep, domain = jid.rpartition("@")
        if sep and local and domain in self.trusted_domains:
            # The account's stored spelling when it exists; the local part
            # otherwise: the trusted domain's users are its accounts by rule.
            account = await self.accounts.get(local)
            return account.name if account is not None else local
        linked = await self.accounts.account_for_jid(jid)
        if linked is not None:
            return linked
        raise UnknownUser("JID neither trusted nor linked")


class JIDGuestChecker:
    """Admits any JID as a guest: the avatar ID is empty (no account)."""

    credential_interfaces: tuple[type, ...] = (JIDCredentials,)

    async def request_avatar_id(self, credentials: JIDCredentials) -> str:
        return ""
