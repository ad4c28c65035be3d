"""What the SQL realm keeps across restarts, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from support import RecordingMind, fresh_postgres_database

from words.cred import AccountChecker, PasswordHasher, Portal, UnauthorizedLogin, UsernamePassword
from words.realm.accounts import DuplicateAccount
from words.realm.sql import SQLWordsRealm
from words.store import Database, SchemaError, check_schema, upgrade
from words.store.migrations import SCHEMA_VERSION, current_version

HASHER = PasswordHasher(ln=4)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'words.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


async def opened(url: str) -> SQLWordsRealm:
    realm = SQLWordsRealm("example.com", url, create_group_on_request=True)
    await realm.open()
    return realm


async def test_accounts_last_and_names_fold(url):
    realm = await opened(url)
    await realm.accounts.create("Alice", HASHER.hash("pw"))
    with pytest.raises(DuplicateAccount):
        await realm.accounts.create("ALICE", HASHER.hash("other"))
    await realm.close()

    realm = await opened(url)
    account = await realm.accounts.get("alice")
    assert account.name == "Alice" and HASHER.verify("pw", account.password_hash)
    assert [a.name for a in await realm.accounts.all()] == ["Alice"]
    await realm.close()


async def test_signing_on_with_an_account_records_last_seen(url):
    realm = await opened(url)
    await realm.accounts.create("alice", HASHER.hash("pw"))
    assert (await realm.accounts.get("alice")).last_seen is None
    realm.sign_on("ally", RecordingMind(), account="alice")
    await realm.flush()
    assert (await realm.accounts.get("alice")).last_seen is not None
    await realm.close()


async def test_fingerprints_and_password_changes(url):
    realm = await opened(url)
    await realm.accounts.create("alice", HASHER.hash("pw"))
    assert await realm.accounts.add_fingerprint("alice", "AB" * 32)
    assert not await realm.accounts.add_fingerprint("bob", "cd" * 32)  # no such account
    assert (await realm.accounts.find_by_fingerprint("ab" * 32)).name == "alice"
    assert await realm.accounts.set_password("alice", HASHER.hash("new"))
    assert await realm.accounts.remove_fingerprint("alice", "ab" * 32)
    assert await realm.accounts.find_by_fingerprint("ab" * 32) is None
    assert await realm.accounts.delete("alice")
    assert await realm.accounts.get("alice") is None
    await realm.close()


async def test_account_checker_logs_in_with_the_stored_password(url):
    realm = await opened(url)
    await realm.accounts.create("alice", HASHER.hash("wonderland"))
    portal = Portal(realm, [AccountChecker(realm.accounts, hasher=HASHER)])
    _, avatar, _ = await portal.login(UsernamePassword("ALICE", "wonderland"), RecordingMind())
    assert avatar.account == "alice"
    with pytest.raises(UnauthorizedLogin):
        await portal.login(UsernamePassword("alice", "wrong"), RecordingMind())
    with pytest.raises(UnauthorizedLogin):
        await portal.login(UsernamePassword("nobody", "x"), RecordingMind())
    await realm.close()


async def test_registered_channels_come_back_with_their_settings(url):
    realm = await opened(url)
    alice = realm.sign_on("alice", RecordingMind(), account="alice", username="~a", host="h")
    group = realm.get_group("#lasting")
    realm.join(alice, group)
    realm.register_group(group, "alice")
    realm.set_topic(group, "kept", by=alice)
    realm.change_settings(group, [("moderated", True, None), ("key", True, "sesame"),
                                  ("ban", True, "*!*@bad.example"), ("invex", True, "friend!*@*")],
                          by=alice)
    realm.set_access(group, "bob", "voice")
    realm.sign_off(alice, "bye")
    assert realm.find_group("#lasting") is group  # registered: it outlives its members
    await realm.close()

    realm = await opened(url)
    group = realm.find_group("#LASTING")
    assert group is not None and group.founder == "alice"
    assert group.topic == "kept" and group.meta["topic_author"] == "alice"
    assert group.settings.moderated and group.settings.key == "sesame"
    assert list(group.settings.bans) == ["*!*@bad.example"]
    assert list(group.settings.invex) == ["friend!*@*"]
    assert group.access == {"bob": "voice"}
    # The founder gets op and the access list applies on join.
    alice = realm.sign_on("alice", RecordingMind(), account="alice")
    bob = realm.sign_on("bob", RecordingMind(), account="bob")
    carol = realm.sign_on("carol", RecordingMind())
    for user in (carol, alice, bob):
        realm.join(user, group)
    assert group.members == {carol: "", alice: "o", bob: "v"}
    realm.change_settings(group, [("ban", False, "*!*@bad.example")], by=alice)
    realm.drop_group(group)
    await realm.close()

    realm = await opened(url)
    assert realm.find_group("#lasting") is None
    await realm.close()


async def test_a_newer_schema_is_refused(url):
    db = Database(url)
    assert upgrade(db) == (0, SCHEMA_VERSION)
    assert current_version(db) == SCHEMA_VERSION
    db.run_sync(lambda conn: conn.exec_driver_sql(
        f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}"), "test")
    with pytest.raises(SchemaError, match="newer than this words knows"):
        check_schema(db)
    db.close()
