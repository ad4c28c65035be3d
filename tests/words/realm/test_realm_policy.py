"""Group settings, member status, bans, invitations, kicks and user flags in the realm."""

from __future__ import annotations

import pytest
from support import RecordingMind

from words.realm import InMemoryWordsRealm
from words.realm.errors import BadKey, Banned, CannotSpeak, GroupFull, InviteOnly, NotInGroup
from words.realm.events import Kicked, SettingsChanged


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def realm(request, make_realm):
    return await make_realm(request.param)


def online(realm, name, host="127.0.0.1"):
    mind = RecordingMind()
    return realm.sign_on(name, mind, username="~" + name, host=host), mind


@pytest.fixture
def room(realm):
    alice, alice_mind = online(realm, "alice")
    group = realm.get_group("#room")
    realm.join(alice, group)
    return group, alice, alice_mind


def test_only_real_changes_are_announced(realm, room):
    group, alice, mind = room
    changes = realm.change_settings(
        group,
        [("moderated", True, None), ("moderated", True, None), ("no_external", True, None),
         ("key", True, "sesame"), ("limit", True, 5), ("op", True, alice)],
        by=alice,
    )
    assert changes == [("moderated", True, None), ("key", True, "sesame"), ("limit", True, 5)]
    kind, event = mind.events[-1]
    assert kind == "group_settings_changed" and isinstance(event, SettingsChanged)
    assert event.changes == changes
    settings = group.settings
    assert settings.moderated and settings.key == "sesame" and settings.limit == 5
    assert realm.change_settings(group, [("moderated", True, None)]) == []
    assert realm.change_settings(group, [("key", False, "wrong-is-fine"), ("limit", False, None)]) == [
        ("key", False, None), ("limit", False, None),
    ]
    assert settings.key is None and settings.limit is None


def test_status_changes_follow_each_other(realm, room):
    group, alice, _ = room
    bob, _ = online(realm, "bob")
    realm.join(bob, group)
    assert realm.change_settings(group, [("voice", True, bob), ("op", True, bob), ("voice", False, bob)]) == [
        ("voice", True, bob), ("op", True, bob), ("voice", False, bob),
    ]
    assert group.members[bob] == "o"
    outsider, _ = online(realm, "carol")
    assert realm.change_settings(group, [("op", True, outsider)]) == []


def test_unknown_setting_is_a_programming_error(realm, room):
    with pytest.raises(ValueError):
        realm.change_settings(room[0], [("colour", True, None)])


def test_ban_stops_join_and_speech_unless_excepted(realm, room):
    group, alice, _ = room
    bob, _ = online(realm, "bob", host="10.0.0.9")
    realm.join(bob, group)
    realm.change_settings(group, [("ban", True, "*!*@10.0.0.*")], by=alice)
    entry = group.settings.bans["*!*@10.0.0.*"]
    assert entry.set_by == alice.mask
    with pytest.raises(CannotSpeak) as info:
        realm.check_speak(bob, group)
    assert info.value.reason == "banned"
    carol, _ = online(realm, "Carol", host="10.0.0.10")
    with pytest.raises(Banned):
        realm.check_join(carol, group)
    realm.change_settings(group, [("exception", True, "carol!*@*")], by=alice)
    realm.check_join(carol, group)  # the exception matches case-insensitively


def test_invite_only_admits_the_invited_and_invex(realm, room):
    group, alice, _ = room
    realm.change_settings(group, [("invite_only", True, None)])
    bob, bob_mind = online(realm, "bob")
    with pytest.raises(InviteOnly):
        realm.check_join(bob, group)
    realm.invite(group, bob, alice)
    assert bob_mind.kinds() == ["user_invited"]
    realm.check_join(bob, group)
    realm.join(bob, group)
    assert bob not in group.invited  # an invitation is used once
    carol, _ = online(realm, "carol")
    realm.change_settings(group, [("invex", True, "carol!*@*")])
    realm.check_join(carol, group)


def test_an_invitation_does_not_pass_to_the_next_user_of_the_nick(realm, room):
    group, alice, _ = room
    realm.change_settings(group, [("invite_only", True, None)])
    bob, _ = online(realm, "bob")
    realm.invite(group, bob, alice)
    realm.sign_off(bob, "gone")
    del bob
    impostor, _ = online(realm, "bob")
    with pytest.raises(InviteOnly):
        realm.check_join(impostor, group)


def test_key_and_limit(realm, room):
    group, alice, _ = room
    realm.change_settings(group, [("key", True, "sesame"), ("limit", True, 1)])
    bob, _ = online(realm, "bob")
    with pytest.raises(BadKey):
        realm.check_join(bob, group, "wrong")
    with pytest.raises(GroupFull):
        realm.check_join(bob, group, "sesame")
    realm.change_settings(group, [("limit", False, None)])
    realm.check_join(bob, group, "sesame")


def test_moderated_and_no_external(realm, room):
    group, alice, _ = room
    bob, _ = online(realm, "bob")
    with pytest.raises(CannotSpeak) as info:
        realm.check_speak(bob, group)
    assert info.value.reason == "outside"
    realm.join(bob, group)
    realm.check_speak(bob, group)
    realm.change_settings(group, [("moderated", True, None)])
    with pytest.raises(CannotSpeak):
        realm.check_speak(bob, group)
    realm.change_settings(group, [("voice", True, bob)])
    realm.check_speak(bob, group)
    realm.check_speak(alice, group)


def test_kick_tells_every_member_including_the_kicked(realm, room):
    group, alice, alice_mind = room
    bob, bob_mind = online(realm, "bob")
    realm.join(bob, group)
    realm.kick(group, bob, alice, "behave")
    assert isinstance(bob_mind.events[-1][1], Kicked)
    assert alice_mind.events[-1][1].reason == "behave"
    assert bob not in group.members and not bob.groups
    with pytest.raises(NotInGroup):
        realm.kick(group, bob, alice)


def test_user_flags_are_told_to_the_user_only(realm, room):
    group, alice, alice_mind = room
    bob, bob_mind = online(realm, "bob")
    realm.join(bob, group)
    before = len(bob_mind.events)
    assert realm.set_user_flags(alice, [("invisible", True), ("invisible", True)]) == [("invisible", True)]
    assert alice_mind.kinds()[-1] == "user_flags_changed"
    assert len(bob_mind.events) == before
    with pytest.raises(ValueError):
        realm.set_user_flags(alice, [("superpowers", True)])


def test_wallops_reach_users_with_the_flag(realm, room):
    _, alice, alice_mind = room
    bob, bob_mind = online(realm, "bob")
    realm.set_user_flags(bob, [("wallops", True)])
    realm.wallops(alice, "server going down")
    assert bob_mind.kinds()[-1] == "wallops"
    assert "wallops" not in alice_mind.kinds()


def test_away(realm, room):
    _, alice, _ = room
    realm.set_away(alice, "lunch")
    assert alice.away == "lunch"
    realm.set_away(alice, "")
    assert alice.away is None
