"""The words realm on its own: no IRC, minds that record what they are told."""

from __future__ import annotations

import pytest
from support import RecordingMind

from words.cred import InMemoryUsernamePasswordDatabase, PasswordHasher, Portal, UsernamePassword
from words.realm import (
    ChatAvatar,
    DuplicateGroup,
    DuplicateUser,
    GroupCreated,
    GroupRemoved,
    InMemoryWordsRealm,
    Joined,
    Left,
    MetaChanged,
    NoSuchGroup,
    NoSuchUser,
    NotInGroup,
    Quit,
    Renamed,
    Said,
    SignedOn,
)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def realm(request, make_realm):
    """The same suite runs on the in-memory realm and on the SQL realm (SQLite, PostgreSQL)."""
    return await make_realm(request.param)


def online(realm, name):
    mind = RecordingMind()
    return realm.sign_on(name, mind, username="u", host="h"), mind


def test_create_user_and_group_refuse_duplicates(realm):
    realm.create_user("alice")
    with pytest.raises(DuplicateUser):
        realm.create_user("ALICE")
    realm.create_group("#twisted")
    with pytest.raises(DuplicateGroup):
        realm.create_group("#Twisted")
    assert realm.lookup_group("#TWISTED").name == "#twisted"


def test_lookups_raise_for_unknown_names(realm):
    with pytest.raises(NoSuchUser):
        realm.lookup_user("nobody")
    with pytest.raises(NoSuchGroup):
        realm.lookup_group("#nowhere")
    assert realm.find_user("nobody") is None


def test_get_group_creates_only_on_request():
    strict = InMemoryWordsRealm("example.com", create_group_on_request=False)
    with pytest.raises(NoSuchGroup):
        strict.get_group("#new")
    lenient = InMemoryWordsRealm("example.com", create_group_on_request=True)
    assert lenient.get_group("#new").transient


def test_get_user_creates_only_on_request():
    strict = InMemoryWordsRealm("example.com", create_user_on_request=False)
    with pytest.raises(NoSuchUser):
        strict.get_user("bob")
    with pytest.raises(NoSuchUser):
        strict.sign_on("bob", RecordingMind())
    strict.create_user("bob")
    assert strict.sign_on("bob", RecordingMind()).online


def test_rfc1459_casemapping_folds_brackets(realm):
    realm.create_user("[Alice]")
    assert realm.find_user("{alice}") is not None
    ascii_realm = InMemoryWordsRealm("example.com", casemapping="ascii")
    ascii_realm.create_user("[Alice]")
    assert ascii_realm.find_user("{alice}") is None


def test_sign_on_refuses_a_name_in_use(realm):
    online(realm, "alice")
    with pytest.raises(DuplicateUser):
        realm.sign_on("Alice", RecordingMind())


def test_join_tells_every_member_and_ops_the_first(realm):
    alice, alice_mind = online(realm, "alice")
    bob, bob_mind = online(realm, "bob")
    group = realm.get_group("#chat")
    realm.join(alice, group)
    realm.join(bob, group)
    assert group.members == {alice: "o", bob: ""}
    assert alice_mind.kinds() == ["user_joined", "user_joined"]
    assert bob_mind.kinds() == ["user_joined"]
    assert realm.join(bob, group) is False  # already a member: no event
    assert bob_mind.kinds() == ["user_joined"]


def test_message_to_group_reaches_others_not_sender(realm):
    alice, alice_mind = online(realm, "alice")
    bob, bob_mind = online(realm, "bob")
    group = realm.get_group("#chat")
    realm.join(alice, group)
    realm.join(bob, group)
    event = realm.say(alice, group, "hello")
    assert ("receive", event) in bob_mind.events
    assert all(kind != "receive" for kind in alice_mind.kinds())
    assert event.text == "hello" and event.kind == "message"


def test_private_message_reaches_only_the_target(realm):
    alice, alice_mind = online(realm, "alice")
    bob, bob_mind = online(realm, "bob")
    carol, carol_mind = online(realm, "carol")
    event = realm.say(alice, bob, "psst", kind="notice")
    assert bob_mind.events == [("receive", event)]
    assert carol_mind.events == [] and alice_mind.events == []


def test_leave_tells_the_leaver_too_and_removes_empty_transient_groups(realm):
    alice, alice_mind = online(realm, "alice")
    group = realm.get_group("#chat")
    realm.join(alice, group)
    realm.leave(alice, group, "bye")
    assert alice_mind.kinds()[-1] == "user_left"
    assert alice_mind.events[-1][1].reason == "bye"
    assert realm.find_group("#chat") is None
    with pytest.raises(NotInGroup):
        realm.leave(alice, group)


def test_created_groups_outlive_their_members(realm):
    alice, _ = online(realm, "alice")
    group = realm.create_group("#lasting")
    realm.join(alice, group)
    realm.leave(alice, group)
    assert realm.find_group("#lasting") is group


def test_rename_tells_each_sharing_mind_once(realm):
    alice, alice_mind = online(realm, "alice")
    bob, bob_mind = online(realm, "bob")
    for name in ("#one", "#two"):
        group = realm.get_group(name)
        realm.join(alice, group)
        realm.join(bob, group)
    realm.rename(alice, "alicia")
    assert bob_mind.kinds().count("user_renamed") == 1
    assert alice_mind.kinds().count("user_renamed") == 1
    event = bob_mind.events[-1][1]
    assert (event.old_name, event.new_name) == ("alice", "alicia")
    assert realm.find_user("alice") is None and realm.find_user("ALICIA") is alice
    with pytest.raises(DuplicateUser):
        realm.rename(alice, "Bob")
    realm.rename(alice, "Alicia")  # a change of case is the same user
    assert alice.name == "Alicia"


def test_quit_tells_each_sharing_mind_once_and_frees_the_name(realm):
    alice, _ = online(realm, "alice")
    bob, bob_mind = online(realm, "bob")
    for name in ("#one", "#two"):
        group = realm.get_group(name)
        realm.join(alice, group)
        realm.join(bob, group)
    realm.sign_off(alice, "gone")
    assert bob_mind.kinds().count("user_quit") == 1
    assert realm.find_user("alice") is None
    assert all(alice not in g.members for g in realm.groups.values())


def test_topic_is_group_metadata(realm):
    alice, alice_mind = online(realm, "alice")
    group = realm.get_group("#chat")
    realm.join(alice, group)
    realm.set_topic(group, "Twisted bots", by=alice)
    assert group.topic == "Twisted bots"
    assert group.meta["topic_author"] == "alice"
    kind, event = alice_mind.events[-1]
    assert kind == "group_meta_update" and event.changes["topic"] == "Twisted bots"


def test_every_change_goes_through_apply_to_subscribers(realm):
    seen = []
    unsubscribe = realm.subscribe(seen.append)
    alice, _ = online(realm, "alice")
    group = realm.get_group("#chat")
    realm.join(alice, group)
    realm.say(alice, group, "hi")
    realm.set_topic(group, "t", by=alice)
    realm.rename(alice, "al")
    realm.sign_off(alice, "bye")
    assert [type(e) for e in seen] == [
        SignedOn, GroupCreated, Joined, Said, MetaChanged, Renamed, Quit, GroupRemoved,
    ]
    unsubscribe()
    online(realm, "bob")
    assert len(seen) == 8


def test_a_failing_mind_does_not_stop_delivery(realm, caplog):
    class Broken(RecordingMind):
        def user_joined(self, event):
            raise RuntimeError("front end bug")

    broken = realm.sign_on("broken", Broken())
    bob, bob_mind = online(realm, "bob")
    group = realm.get_group("#chat")
    realm.join(broken, group)
    realm.join(bob, group)
    assert bob_mind.kinds() == ["user_joined"]
    assert "front end bug" in caplog.text


async def test_portal_login_gives_an_avatar_that_signs_on_and_logs_out(realm):
    checker = InMemoryUsernamePasswordDatabase({"alice": "secret"}, hasher=PasswordHasher(ln=4))
    portal = Portal(realm, [checker])
    mind = RecordingMind()
    iface, avatar, logout = await portal.login(UsernamePassword("alice", "secret"), mind, ChatAvatar)
    assert iface is ChatAvatar and avatar.account == "alice"
    user = avatar.sign_on("ally", account=avatar.account)
    assert user.account == "alice" and realm.find_user("ally") is user
    logout()
    assert realm.find_user("ally") is None


def test_a_users_mask_is_one_string_while_it_stays_the_same(realm):
    user = realm.sign_on("alice", RecordingMind(), username="~a", host="h1")
    first = user.mask
    assert first == "alice!~a@h1" and user.mask is first  # what history records share
    realm.rename(user, "alicia")
    assert user.mask == "alicia!~a@h1"
    user.host = "h2"
    assert user.mask == "alicia!~a@h2"
