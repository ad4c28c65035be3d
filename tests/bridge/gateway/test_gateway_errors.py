"""Refusals are stanza errors with a reason (never silence); disco, ping and self-ping."""

from __future__ import annotations

import pytest
from gateway_support import join, room
from slixmpp.exceptions import IqError, PresenceError
from support import RawClient
from support import join as irc_join


async def op_of(server, channel: str) -> RawClient:
    bob = await RawClient.connect(server.port)
    await bob.register("bob")
    await irc_join(bob, channel)
    return bob


async def join_error(client, channel: str, nick: str, **options) -> PresenceError:
    with pytest.raises(PresenceError) as refused:
        await join(client, channel, nick, **options)
    return refused.value


async def test_banned_invite_only_and_key_are_stanza_errors(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await op_of(server, "#strict")
    try:
        alice = await xmpp_user("alice")
        await bob.send(f"MODE #strict +b *!{alice.boundjid.user}@localhost")
        await bob.expect("MODE")
        banned = await join_error(alice, "#strict", "alice")
        assert (banned.condition, banned.text) == ("forbidden", "You are banned from this channel (+b)")
        await bob.send(f"MODE #strict -b+i *!{alice.boundjid.user}@localhost")
        await bob.expect("MODE")
        invite = await join_error(alice, "#strict", "alice")
        assert (invite.condition, invite.text) == (
            "registration-required", "This channel is invite-only (+i)")
        await bob.send("MODE #strict -i+k sesame")
        await bob.expect("MODE")
        keyed = await join_error(alice, "#strict", "alice")
        assert (keyed.condition, keyed.text) == (
            "not-authorized", "This channel needs the right password (+k)")
        # The room password is the channel key.
        await join(alice, "#strict", "alice", password="sesame")
        assert (await bob.expect("JOIN")).source.startswith("alice!")
        # Refused joins left nothing behind: one alice, in one channel.
        assert list(server.realm.find_user("alice").groups) == ["#strict"]
    finally:
        await bob.close()


async def test_who_cannot_speak_is_told_why(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await op_of(server, "#quiet")
    try:
        alice = await xmpp_user("alice")
        await join(alice, "#quiet", "alice")
        await bob.send("MODE #quiet +m")
        await bob.expect("MODE")
        visitor = await alice.inbox.expect(
            lambda s: s.name == "presence" and str(s["from"]).endswith("/alice")
            and s["muc"]["role"] == "visitor", "her role becoming visitor")
        assert visitor["muc"]["status_codes"] == {110}
        alice.send_message(room("#quiet"), "can I talk?", mtype="groupchat")
        error = await alice.inbox.error("forbidden")
        assert error["error"]["text"] == "This room is moderated (+m): you need voice to speak"
        assert not [m for m in await bob.until_pong() if m.command == "PRIVMSG"]
        # Not in a room: not-acceptable.
        alice.send_message(room("#elsewhere"), "hello?", mtype="groupchat")
        error = await alice.inbox.error("not-acceptable")
        assert error["error"]["text"] == "You are not in #elsewhere"
    finally:
        await bob.close()


async def test_disco_ping_and_self_ping(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await op_of(server, "#open")
    try:
        await bob.send("JOIN #hidden")
        await bob.expect("366")
        await bob.send("MODE #hidden +s")
        await bob.expect("MODE")
        alice = await xmpp_user("alice")
        disco = alice.plugin["xep_0030"]
        info = await disco.get_info(jid="irc.localhost", timeout=10)
        identities = {(i[0], i[1]) for i in info["disco_info"]["identities"]}
        assert identities == {("gateway", "irc"), ("conference", "irc")}
        assert "http://jabber.org/protocol/muc" in info["disco_info"]["features"]
        assert "jabber:iq:register" in info["disco_info"]["features"]
        items = await disco.get_items(jid="irc.localhost", timeout=10)
        assert [item[0] for item in items["disco_items"]["items"]] == [room("#open")]
        room_info = await disco.get_info(jid=room("#open"), timeout=10)
        assert ("conference", "text") in {(i[0], i[1]) for i in room_info["disco_info"]["identities"]}
        assert "muc_unsecured" in room_info["disco_info"]["features"]
        with pytest.raises(IqError) as hidden:
            await disco.get_info(jid=room("#hidden"), timeout=10)
        assert hidden.value.condition == "item-not-found"

        user_info = await disco.get_info(jid="bob@irc.localhost", timeout=10)
        assert [(i[0], i[1], i[3]) for i in user_info["disco_info"]["identities"]] == [
            ("client", "pc", "bob")]
        with pytest.raises(IqError) as nobody:
            await disco.get_info(jid="nobody@irc.localhost", timeout=10)
        assert nobody.value.condition == "item-not-found"

        ping = alice.plugin["xep_0199"]
        await ping.send_ping("irc.localhost", timeout=10)
        # XEP-0410: not joined -> not-acceptable; joined -> a plain answer.
        with pytest.raises(IqError) as outside:
            await ping.send_ping(f"{room('#open')}/alice", timeout=10)
        assert outside.value.condition == "not-acceptable"
        await join(alice, "#open", "alice")
        await ping.send_ping(f"{room('#open')}/alice", timeout=10)
    finally:
        await bob.close()


async def test_flooding_from_xmpp_is_refused_as_irc_pacing_would(gateway_server, xmpp_user):
    # IRC clients are paced too: bob's four lines (NICK, USER, JOIN, PING) fit the burst.
    server = await gateway_server(limits={"flood_burst": 5, "flood_rate": 0.01})
    bob = await op_of(server, "#calm")
    try:
        alice = await xmpp_user("alice")
        await join(alice, "#calm", "alice")
        alice.send_message(room("#calm"), "one\ntwo\nthree\nfour", mtype="groupchat")
        alice.send_message(room("#calm"), "five\nsix", mtype="groupchat")  # runs into debt
        alice.send_message(room("#calm"), "seven", mtype="groupchat")
        error = await alice.inbox.error("resource-constraint")
        assert error["error"]["text"] == "You are sending too fast for IRC; wait a moment"
        said = [m.params[-1] for m in await bob.until_pong() if m.command == "PRIVMSG"]
        assert said == ["one", "two", "three", "four", "five", "six"]
        # Without a room, private messages have no nick to go out under: an error.
        other = await xmpp_user("olga")
        other.send_message("bob@irc.localhost", "hi", mtype="chat")
        error = await other.inbox.error("not-acceptable")
        assert error["error"]["text"].startswith("Join a room on irc.localhost first")
    finally:
        await bob.close()


async def test_an_oper_kill_is_told_to_the_xmpp_clients(gateway_server, xmpp_user):
    from words.config import Oper
    from words.cred import PasswordHasher

    oper = Oper("root", PasswordHasher(ln=4).hash("rootpass"))
    server = await gateway_server(config={"opers": (oper,)})
    bob = await op_of(server, "#kill")
    try:
        await bob.send("OPER root rootpass")
        await bob.expect("381")
        alice = await xmpp_user("alice")
        await join(alice, "#kill", "alice")
        await bob.expect("JOIN")
        await bob.send("KILL alice :go away")
        gone = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable"
            and str(s["from"]).endswith("/alice"), "her removal")
        assert gone["muc"]["status_codes"] == {307, 110}
        assert gone.xml.findtext(".//{http://jabber.org/protocol/muc#user}reason") == (
            "Killed (bob (go away))")
        assert not server.gateway.sessions
        # She may come back at once: a new session.
        await join(alice, "#kill", "alice")
        assert (await bob.expect("JOIN")).source.startswith("alice!")
    finally:
        await bob.close()


async def test_the_room_password_is_the_channel_key_in_the_config_form(gateway_server, xmpp_user):
    server = await gateway_server()
    alice = await xmpp_user("alice")
    await join(alice, "#secret", "alice")  # first in: operator, so moderator
    muc = alice.plugin["xep_0045"]
    form = await muc.get_room_config(room("#secret"), timeout=10)
    assert form.get_fields()["muc#roomconfig_roomsecret"]["value"] == ""
    form.get_fields()["muc#roomconfig_roomsecret"]["value"] = "sesame"
    await muc.set_room_config(room("#secret"), form, timeout=10)
    assert server.realm.find_group("#secret").settings.key == "sesame"
    bob = await RawClient.connect(server.port)
    try:
        await bob.register("bob")
        await bob.send("JOIN #secret")
        assert (await bob.expect("475")).params[1] == "#secret"
        await bob.send("JOIN #secret sesame")
        await bob.expect("366")
        # Not a moderator: the form is refused.
        carol = await xmpp_user("carol")
        await join(carol, "#secret", "carol", password="sesame")
        with pytest.raises(IqError) as refused:
            await carol.plugin["xep_0045"].get_room_config(room("#secret"), timeout=10)
        assert refused.value.condition == "forbidden"
    finally:
        await bob.close()


async def test_a_client_going_offline_parts_its_rooms(gateway_server, xmpp_user):
    from xmpp_support import disconnect_client

    server = await gateway_server()
    bob = await op_of(server, "#bye")
    try:
        alice = await xmpp_user("alice")
        await join(alice, "#bye", "alice")
        await bob.expect("JOIN")
        await disconnect_client(alice)  # a clean logout: unavailable to every room
        part = await bob.expect("PART")
        assert part.source.startswith("alice!") and part.params[0] == "#bye"
        from support import wait_until

        await wait_until(lambda: server.realm.find_user("alice") is None, "alice signed off")
    finally:
        await bob.close()


async def test_one_jid_has_at_most_five_nicks(gateway_server, xmpp_user):
    server = await gateway_server()
    alice = await xmpp_user("alice")
    for i in range(5):
        await join(alice, f"#n{i}", f"alice{i}")
    refused = await join_error(alice, "#n5", "alice5")
    assert (refused.condition, refused.text) == (
        "not-allowed", "You already use 5 nicks here: join with one of them")
    await join(alice, "#n5", "alice0")  # an existing nick may join more rooms
    assert sorted(server.realm.find_user("alice0").groups) == ["#n0", "#n5"]


async def test_a_banned_occupant_is_told_why_his_message_is_refused(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await op_of(server, "#nospeak")
    try:
        alice = await xmpp_user("alice")
        await join(alice, "#nospeak", "alice")
        await bob.expect("JOIN")
        await bob.send(f"MODE #nospeak +b *!{alice.boundjid.user}@localhost")
        await bob.expect("MODE")
        alice.send_message(room("#nospeak"), "let me talk", mtype="groupchat")
        error = await alice.inbox.error("forbidden")
        assert error["error"]["text"] == "You are banned from this channel (+b)"
        assert error["error"]["type"] == "auth"
        assert not [m for m in await bob.until_pong() if m.command == "PRIVMSG"]
        # Nor is it reflected: only the error came back.
        assert not [s for s in alice.inbox.stanzas if s.name == "message" and s["body"]]
    finally:
        await bob.close()


async def test_room_features_follow_the_channel_modes(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await op_of(server, "#modes")
    try:
        alice = await xmpp_user("alice")
        disco = alice.plugin["xep_0030"]

        async def features() -> set[str]:
            info = await disco.get_info(jid=room("#modes"), timeout=10, cached=False)
            return set(info["disco_info"]["features"])

        assert {"muc_unsecured", "muc_open", "muc_unmoderated", "muc_public"} <= await features()
        await bob.send("MODE #modes +kim sesame")
        await bob.expect("MODE")
        now = await features()
        assert {"muc_passwordprotected", "muc_membersonly", "muc_moderated"} <= now
        assert not {"muc_unsecured", "muc_open", "muc_unmoderated"} & now
        await bob.send("MODE #modes -k sesame")
        await bob.expect("MODE")
        now = await features()
        assert "muc_unsecured" in now and "muc_passwordprotected" not in now
    finally:
        await bob.close()
