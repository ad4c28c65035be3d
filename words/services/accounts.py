"""Registering accounts and checking their passwords, for every front end.

NickServ REGISTER and the IRCv3 REGISTER command both come here, so the rules
(names, password strength, hashing, SCRAM verifiers) are the same; an account
is reported as registered only after the store has committed it. Passwords
are checked through the Portal, so NickServ IDENTIFY counts against the same
login throttling as PASS and SASL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.cred import LoginFailed, UsernamePassword
from words.cred.scram import ScramVerifier
from words.names import valid_nick
from words.realm.accounts import Account, DuplicateAccount

if TYPE_CHECKING:
    from words.config import Config
    from words.cred import PasswordHasher, Portal
    from words.realm import User, WordsRealm



class RegistrationError(Exception):
    """Why an account was not registered: `code` is the IRCv3 FAIL code."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class Registrar:
    def __init__(
        self, realm: WordsRealm, portal: Portal | None, hasher: PasswordHasher, config: Config,
        reserved: tuple[str, ...] = (),
    ) -> None:
        self.realm = realm
        self.portal = portal
        self.hasher = hasher
        self.config = config
        self.reserved = {realm.casefold(name) for name in reserved}

    @property
    def open(self) -> bool:
        """May users register accounts themselves?"""
        return self.config.services.registration

    def check_name(self, name: str) -> None:
        """An account name is a nick (so the nick can belong to it): RegistrationError if not."""
        maxlen = self.config.limits.nicklen
        if not valid_nick(name, maxlen, self.config.nick_charset):
            raise RegistrationError(
                "BAD_ACCOUNT_NAME",
                f"Account names are nicks: a letter or one of []\\`_^{{|}} first, then also "
                f"digits and '-', at most {maxlen} characters",
            )
        if self.realm.casefold(name) in self.reserved:
            raise RegistrationError("BAD_ACCOUNT_NAME", f"{name} is reserved")

    def check_password(self, password: str) -> None:
        minimum = self.config.services.min_password_length
        if len(password) < minimum:
            raise RegistrationError("WEAK_PASSWORD", f"Passwords need at least {minimum} characters")

    async def secrets(self, password: str) -> tuple[str, str | None]:
        """(scrypt hash, SCRAM verifier or None), computed off the event loop."""
        digest = await self.hasher.hash_async(password)
        scram = None
        if self.config.scram:
            import asyncio

            scram = str(await asyncio.to_thread(ScramVerifier.from_password, password))
        return digest, scram

    async def register(self, name: str, password: str) -> Account:
        """Create the account; returns once it is committed. RegistrationError if refused."""
        if not self.open:
            raise RegistrationError(
                "TEMPORARILY_UNAVAILABLE", "Registration is closed on this server; ask an operator"
            )
        self.check_name(name)
        self.check_password(password)
        if await self.realm.accounts.get(name) is not None:
            raise RegistrationError("ACCOUNT_EXISTS", f"{name} is already registered")
        digest, scram = await self.secrets(password)
        try:
            return await self.realm.accounts.create(name, digest, scram=scram)
        except DuplicateAccount:  # registered meanwhile by someone else
            raise RegistrationError("ACCOUNT_EXISTS", f"{name} is already registered") from None

    async def set_password(self, name: str, password: str) -> bool:
        self.check_password(password)
        digest, scram = await self.secrets(password)
        return await self.realm.accounts.set_password(name, digest, scram=scram)

    async def check(self, user: User, account: str, password: str) -> str:
        """The account's stored name if `password` is right (through the Portal).

        LoginFailed (wrong password, unknown account) or LoginThrottled, as a
        PASS login would get.
        """
        credentials = UsernamePassword(account, password)
        if self.portal is None:
            stored = await self.realm.accounts.get(account)
            if stored is None or not await self.hasher.verify_async(password, stored.password_hash):
                raise LoginFailed("unknown user or wrong password")
            return stored.name
        _, avatar, _ = await self.portal.login(credentials, user.mind, address=user.host or None)
        return avatar.account
