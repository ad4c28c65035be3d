"""Login throttling in the Portal: per account name and per address, no oracle."""

from __future__ import annotations

import pytest

from words.cred import (
    InMemoryUsernamePasswordDatabase,
    LoginThrottle,
    LoginThrottled,
    PasswordHasher,
    Portal,
    UnauthorizedLogin,
    UsernamePassword,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Realm:
    async def request_avatar(self, avatar_id, mind, *interfaces):
        return object, avatar_id, lambda: None


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def portal(clock):
    checker = InMemoryUsernamePasswordDatabase({"alice": "right"}, hasher=PasswordHasher(ln=4))
    throttle = LoginThrottle(account_failures=3, address_failures=5, window=60, clock=clock)
    return Portal(Realm(), [checker], throttle=throttle)


async def fail(portal, name="alice", address="10.0.0.1"):
    with pytest.raises(UnauthorizedLogin):
        await portal.login(UsernamePassword(name, "wrong"), None, address=address)


async def test_an_account_is_locked_after_its_failures_then_released(portal, clock):
    for _ in range(3):
        await fail(portal, address=None)
    with pytest.raises(LoginThrottled):
        await portal.login(UsernamePassword("Alice", "right"), None, address="10.9.9.9")
    clock.now += 61
    _, avatar, _ = await portal.login(UsernamePassword("alice", "right"), None)
    assert avatar == "alice"


async def test_unknown_names_are_throttled_the_same_way(portal):
    for _ in range(3):
        await fail(portal, name="nobody", address=None)
    with pytest.raises(LoginThrottled):
        await portal.login(UsernamePassword("nobody", "x"), None)


async def test_an_address_is_throttled_across_names(portal):
    for i in range(5):
        await fail(portal, name=f"user{i}")
    with pytest.raises(LoginThrottled):
        await portal.login(UsernamePassword("alice", "right"), None, address="10.0.0.1")
    _, avatar, _ = await portal.login(UsernamePassword("alice", "right"), None, address="10.0.0.2")
    assert avatar == "alice"


async def test_a_success_clears_the_account_count(portal):
    await fail(portal, address=None)
    await fail(portal, address=None)
    await portal.login(UsernamePassword("alice", "right"), None)
    await fail(portal, address=None)
    await fail(portal, address=None)
    _, avatar, _ = await portal.login(UsernamePassword("alice", "right"), None)
    assert avatar == "alice"


def test_old_failures_are_forgotten(clock):
    throttle = LoginThrottle(account_failures=1, window=10, clock=clock)
    throttle.failed("bob", "1.2.3.4")
    assert throttle.blocked("bob", None)
    clock.now += 11
    assert not throttle.blocked("bob", "1.2.3.4")
    assert throttle._failures == {}  # nothing kept once it aged out
