from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from words.cred.checkers import AllowAnonymousAccess, InMemoryUsernamePasswordDatabase
from words.cred.credentials import Anonymous, UsernamePassword
from words.cred.errors import UnauthorizedLogin, UnhandledCredentials
from words.cred.hashing import PasswordHasher
from words.cred.portal import LOGIN_REFUSED, Portal

FAST = PasswordHasher(ln=4)


class IChat:
    """A stand-in front-end interface."""


@dataclass
class Avatar:
    avatar_id: str
    mind: object


@dataclass
class RecordingRealm:
    logged_out: list[str] = field(default_factory=list)

    async def request_avatar(
        self, avatar_id: str, mind: object, *interfaces: type
    ) -> tuple[type, object, Callable[[], object]]:
        return interfaces[0], Avatar(avatar_id, mind), lambda: self.logged_out.append(avatar_id)


def memory(**users: str) -> InMemoryUsernamePasswordDatabase:
    return InMemoryUsernamePasswordDatabase(users, hasher=FAST)


async def test_login_returns_the_realm_triple() -> None:
    realm = RecordingRealm()
    portal = Portal(realm, [memory(alice="wonderland")])
    mind = object()
    interface, avatar, logout = await portal.login(
        UsernamePassword("alice", "wonderland"), mind, IChat
    )
    assert interface is IChat
    assert avatar == Avatar("alice", mind)
    logout()
    assert realm.logged_out == ["alice"]


async def test_unknown_user_falls_through_to_the_next_checker() -> None:
    portal = Portal(RecordingRealm(), [memory(alice="wonderland"), memory(bob="builder")])
    _, avatar, _ = await portal.login(UsernamePassword("bob", "builder"), None, IChat)
    assert avatar.avatar_id == "bob"


async def test_wrong_password_stops_the_chain() -> None:
    # The second checker would accept, but the first knows alice and says no.
    portal = Portal(RecordingRealm(), [memory(alice="wonderland"), memory(alice="mirror")])
    with pytest.raises(UnauthorizedLogin) as wrong:
        await portal.login(UsernamePassword("alice", "mirror"), None, IChat)
    with pytest.raises(UnauthorizedLogin) as unknown:
        await portal.login(UsernamePassword("mallory", "mirror"), None, IChat)
    # The same plain error either way: no oracle for who exists.
    assert type(wrong.value) is type(unknown.value) is UnauthorizedLogin
    assert str(wrong.value) == str(unknown.value) == LOGIN_REFUSED


async def test_unhandled_credentials() -> None:
    portal = Portal(RecordingRealm(), [memory(alice="wonderland")])
    with pytest.raises(UnhandledCredentials, match="Anonymous"):
        await portal.login(Anonymous("guest"), None, IChat)


async def test_register_checker_for_chosen_interfaces() -> None:
    portal = Portal(RecordingRealm())
    assert portal.list_credentials_interfaces() == []
    portal.register_checker(memory(alice="wonderland"))
    portal.register_checker(AllowAnonymousAccess(), Anonymous)
    portal.register_checker(memory(bob="builder"))
    assert portal.list_credentials_interfaces() == [UsernamePassword, Anonymous]
    _, avatar, _ = await portal.login(Anonymous("guest"), None, IChat)
    assert avatar.avatar_id == "guest"


async def test_identify_is_a_lookup_not_a_login_attempt() -> None:
    from words.cred.throttle import LoginThrottle

    throttle = LoginThrottle(account_failures=1)
    portal = Portal(RecordingRealm(), [memory(alice="wonderland")], throttle=throttle)
    _, avatar, _ = await portal.identify(UsernamePassword("alice", "wonderland"), None, IChat)
    assert avatar.avatar_id == "alice"
    for _ in range(3):
        with pytest.raises(UnauthorizedLogin):
            await portal.identify(UsernamePassword("alice", "mirror"), None, IChat)
    # Not counted: a login is not throttled after them (one failure would throttle it).
    assert not throttle.blocked("alice", None)
    _, avatar, _ = await portal.login(UsernamePassword("alice", "wonderland"), None, IChat)
    assert avatar.avatar_id == "alice"
