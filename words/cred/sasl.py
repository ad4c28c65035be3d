"""SASL on the server side, protocol-neutral: IRC's AUTHENTICATE and XMPP both use it.

PLAIN turns into UsernamePassword credentials (the Portal checks them like a
PASS); EXTERNAL into a CertificateFingerprint (the TLS layer vouches for the
certificate, an account store maps its fingerprint to an account); SCRAM runs
its own exchange (words.cred.scram) and ends in VerifiedAccount credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from words.cred.credentials import UsernamePassword
from words.cred.errors import UnauthorizedLogin, UnknownUser


@dataclass(frozen=True, slots=True)
class CertificateFingerprint:
    """A TLS client certificate's SHA-256 (lower-case hex), and the account asked for (or "")."""

    fingerprint: str
    requested: str = ""


@dataclass(frozen=True, slots=True)
class VerifiedAccount:
    """An account already proven by an exchange run in this process (SCRAM)."""

    name: str


def parse_plain(message: bytes) -> UsernamePassword:
    """RFC 4616: authzid NUL authcid NUL password. A different authzid is refused."""
    try:
        authzid, authcid, password = message.decode("utf-8").split("\0")
    except (UnicodeDecodeError, ValueError):
        raise UnauthorizedLogin("malformed PLAIN message") from None
    if not authcid or not password:
        raise UnauthorizedLogin("malformed PLAIN message")
    if authzid and authzid != authcid:
        raise UnauthorizedLogin("logging in as another account is not allowed")
    return UsernamePassword(authcid, password)


class CertificateChecker:
    """EXTERNAL: the account whose registered fingerprints include the client's certificate."""

    credential_interfaces: tuple[type, ...] = (CertificateFingerprint,)

    def __init__(self, accounts, casefold=str.lower) -> None:
        self.accounts = accounts
        self.casefold = casefold

    async def request_avatar_id(self, credentials: CertificateFingerprint) -> str:
        account = await self.accounts.find_by_fingerprint(credentials.fingerprint)
        if account is None:
            raise UnknownUser("no account has this certificate")
        if credentials.requested and self.casefold(credentials.requested) != self.casefold(account.name):
            raise UnauthorizedLogin("this certificate belongs to another account")
        return account.name


class VerifiedAccountChecker:
    """Accepts what an in-process SASL exchange already proved."""

    credential_interfaces: tuple[type, ...] = (VerifiedAccount,)

    async def request_avatar_id(self, credentials: VerifiedAccount) -> str:
        return credentials.name
