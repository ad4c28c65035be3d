"""JID credentials: trusted domains, links kept by the account store, guests."""

from __future__ import annotations

import pytest

from words.cred import JIDChecker, JIDCredentials, JIDGuestChecker, Portal
from words.cred.errors import UnauthorizedLogin, UnknownUser
from words.cred.jid import bare_jid
from words.realm import ChatAvatar

KINDS = ["memory", "sqlite"]


def test_bare_jid_drops_the_resource_and_lowers_the_case() -> None:
    assert bare_jid("Alice@Example.ORG/phone") == "alice@example.org"
    assert bare_jid("example.org/x") == "example.org"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_trusted_domain_maps_the_local_part_to_the_account(make_realm, kind) -> None:
    realm = await make_realm(kind)
    await realm.accounts.create("Alice", "$scrypt$x")
    checker = JIDChecker(realm.accounts, ["example.org"])
    assert await checker.request_avatar_id(JIDCredentials("alice@example.org/pc")) == "Alice"
    # Not registered on IRC: the domain's rule still makes it the account of that name.
    assert await checker.request_avatar_id(JIDCredentials("carol@example.org")) == "carol"
    with pytest.raises(UnknownUser):
        await checker.request_avatar_id(JIDCredentials("alice@elsewhere.net"))


@pytest.mark.parametrize("kind", KINDS)
async def test_a_link_is_stored_and_admits_the_jid(make_realm, kind) -> None:
    realm = await make_realm(kind)
    accounts = realm.accounts
    await accounts.create("bob", "$scrypt$x")
    checker = JIDChecker(accounts)
    with pytest.raises(UnknownUser):
        await checker.request_avatar_id(JIDCredentials("bob@jabber.example"))
    assert await accounts.link_jid("bob@jabber.example", "BOB") is True
    assert await accounts.link_jid("x@jabber.example", "nobody") is False
    assert await accounts.account_for_jid("Bob@Jabber.Example") == "bob"
    assert await checker.request_avatar_id(JIDCredentials("bob@jabber.example/res")) == "bob"
    # Linking again moves the JID; deleting the account drops its links.
    await accounts.create("robert", "$scrypt$x")
    assert await accounts.link_jid("bob@jabber.example", "robert") is True
    assert await accounts.account_for_jid("bob@jabber.example") == "robert"
    assert await accounts.delete("robert") is True
    assert await accounts.account_for_jid("bob@jabber.example") is None
    assert await accounts.link_jid("bob@jabber.example", "bob") is True
    assert await accounts.unlink_jid("bob@jabber.example") is True
    assert await accounts.unlink_jid("bob@jabber.example") is False


async def test_the_portal_refuses_unknown_jids_or_lets_them_in_as_guests(make_realm) -> None:
    realm = await make_realm("memory")
    strict = Portal(realm, [JIDChecker(realm.accounts, ["example.org"])])
    with pytest.raises(UnauthorizedLogin):
        await strict.login(JIDCredentials("eve@evil.example"), object(), ChatAvatar)
    guests = Portal(realm, [JIDChecker(realm.accounts, ["example.org"]), JIDGuestChecker()])
    _, avatar, _ = await guests.login(JIDCredentials("eve@evil.example"), object(), ChatAvatar)
    assert avatar.account == ""
    _, avatar, _ = await guests.login(JIDCredentials("amy@example.org"), object(), ChatAvatar)
    assert avatar.account == "amy"
