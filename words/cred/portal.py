"""The portal: one realm, an ordered chain of checkers per credential type."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from words.cred.checkers import CredentialsChecker
from words.cred.errors import (
    LoginThrottled,
    UnauthorizedLogin,
    UnhandledCredentials,
    UnknownUser,
)
from words.cred.throttle import LoginThrottle

# One message for unknown user and wrong password: no oracle for attackers.
LOGIN_REFUSED = "unknown user or wrong password"


class Realm(Protocol):
    async def request_avatar(
        self, avatar_id: str, mind: object, *interfaces: type
    ) -> tuple[type, object, Callable[[], object]]:
        """Return (interface, avatar, logout) for an authenticated avatar ID."""
        ...


class Portal:
    def __init__(
        self,
        realm: Realm,
        checkers: Iterable[CredentialsChecker] = (),
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.realm = realm
        self.throttle = throttle
        self._checkers: list[tuple[type, CredentialsChecker]] = []
        for checker in checkers:
            self.register_checker(checker)

    def register_checker(
        self, checker: CredentialsChecker, *credential_interfaces: type
    ) -> None:
        """Append ``checker`` to the chain of each credential type it handles."""
        for interface in credential_interfaces or checker.credential_interfaces:
            self._checkers.append((interface, checker))

    def set_checkers(self, checkers: Iterable[CredentialsChecker]) -> None:
        """Replace every checker at once (a configuration reload); logins under way finish."""
        self._checkers = []
        for checker in checkers:
            self.register_checker(checker)

    def list_credentials_interfaces(self) -> list[type]:
        return list(dict.fromkeys(interface for interface, _ in self._checkers))

    async def login(
        self, credentials: Any, mind: object, *interfaces: type, address: str | None = None
    ) -> tuple[type, object, Callable[[], object]]:
        """Authenticate, then ask the realm for an avatar.

        The checkers for the credentials' type are asked in registration
        order; only UnknownUser passes on to the next one. A checker that
        knows the user and refuses is final, so a later checker can never
        override it. With a throttle, too many failures for the account name
        or from `address` (the client's address) raise LoginThrottled.
        """
        throttle = self.throttle
        name = getattr(credentials, "username", None)
        key = name.lower() if isinstance(name, str) else None
        if throttle is not None and throttle.blocked(key, address):
            raise LoginThrottled("too many failed logins; try again later")
        try:
            result = await self._login(credentials, mind, *interfaces)
        except UnauthorizedLogin:
            if throttle is not None:
                throttle.failed(key, address)
            raise
        if throttle is not None:
            throttle.succeeded(key)
        return result

    async def identify(
        self, credentials: Any, mind: object, *interfaces: type
    ) -> tuple[type, object, Callable[[], object]]:
        """What `login` would give, without it counting as a login attempt: a refusal is
        no failed login (not throttled, not in the metrics). For a lookup of who someone
        is (the XMPP gateway's status command), never for letting anyone in."""
        return await self._login(credentials, mind, *interfaces)

    async def _login(
        self, credentials: Any, mind: object, *interfaces: type
    ) -> tuple[type, object, Callable[[], object]]:
        chain: list[CredentialsChecker] = []
        for interface, checker in self._checkers:
            # By identity: checkers need not be hashable, and one registered
            # for a class and its subclass is asked once.
            if isinstance(credentials, interface) and all(c is not checker for c in chain):
                chain.append(checker)
        if not chain:
            raise UnhandledCredentials(
                f"no checker accepts {type(credentials).__name__} credentials"
            )
        for checker in chain:
            try:
                avatar_id = await checker.request_avatar_id(credentials)
            except UnknownUser:
                continue
            except UnauthorizedLogin as exc:
                raise UnauthorizedLogin(LOGIN_REFUSED) from exc
            return await self.realm.request_avatar(avatar_id, mind, *interfaces)
        raise UnauthorizedLogin(LOGIN_REFUSED)
