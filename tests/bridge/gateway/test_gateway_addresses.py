"""Room and user JIDs: IRC casemapping (each client hears from the JID it used) and XEP-0106."""

from __future__ import annotations

import pytest
from gateway_support import irc_client, join, room
from slixmpp.exceptions import PresenceError
from support import join as irc_join

DISCO_ITEMS = "{http://jabber.org/protocol/disco#items}"



async def disco_items(client) -> list[tuple[str, str]]:
    iq = client.make_iq_get(queryxmlns="http://jabber.org/protocol/disco#items",
                            ito="irc.localhost")
    reply = await iq.send(timeout=10)
    return [(item.get("jid"), item.get("name"))
            for item in reply.xml.iter(f"{DISCO_ITEMS}item")]


async def test_a_room_is_heard_from_the_spelling_each_client_joined(gateway_server, xmpp_user):
    server = await gateway_server()  # rfc1459: #a[b] and #a{b} are one channel
    bob = await irc_client(server, "bob")
    try:
        await irc_join(bob, "#a[b]")
        alice = await xmpp_user("alice")
        # join_muc_wait only accepts the sequence from the room JID it joined.
        joined = await join(alice, "#a{b}", "alice")
        assert [str(p["from"]) for p in joined.occupants] == [
            "#a{b}@irc.localhost/bob", "#a{b}@irc.localhost/alice"]
        assert str(joined.subject["from"]) == "#a{b}@irc.localhost"
        assert (await bob.expect("JOIN")).params == ["#a[b]"]
        carol = await xmpp_user("carol")
        await join(carol, "#a[b]", "carol")
        await alice.inbox.expect(
            lambda s: s.name == "presence" and str(s["from"]) == "#a{b}@irc.localhost/carol",
            "carol's arrival under alice's spelling")

        await bob.send("PRIVMSG #a[b] :hello spellings")
        got = await alice.inbox.message("hello spellings", "#a{b}@irc.localhost/bob")
        stanza_id = got.xml.find("{urn:xmpp:sid:0}stanza-id")
        assert stanza_id.get("by") == "#a{b}@irc.localhost"
        await carol.inbox.message("hello spellings", "#a[b]@irc.localhost/bob")

        alice.send_message(room("#a{b}"), "from alice", mtype="groupchat")
        assert (await bob.expect("PRIVMSG")).params == ["#a[b]", "from alice"]
        await alice.inbox.message("from alice", "#a{b}@irc.localhost/alice")  # reflected
        await carol.inbox.message("from alice", "#a[b]@irc.localhost/alice")

        await bob.send("TOPIC #a[b] :one channel")
        for client, spelling in ((alice, "#a{b}"), (carol, "#a[b]")):
            subject = await client.inbox.expect(
                lambda s: s.name == "message" and s["subject"] == "one channel", "the subject")
            assert str(subject["from"]) == f"{spelling}@irc.localhost/bob"

        # The other spelling, from a client already joined, is another room to it: refused.
        with pytest.raises(PresenceError) as other:
            await join(alice, "#a[b]", "alice")
        assert other.value.condition == "conflict"
        assert other.value.text == "You are in this channel already, as #a{b}@irc.localhost"

        # Disco lists one JID per channel: the name folded by the casemapping.
        assert ("#a{b}@irc.localhost", "#a[b] (3)") in await disco_items(alice)

        await bob.send("QUIT :gone")
        left = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable", "bob's quit")
        assert str(left["from"]) == "#a{b}@irc.localhost/bob"
    finally:
        await bob.close()


async def test_private_messages_come_from_the_nick_jid_the_client_wrote_to(
        gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "Bob[x]")
    try:
        await irc_join(bob, "#pmcase")
        alice = await xmpp_user("alice")
        carol = await xmpp_user("carol")
        dave = await xmpp_user("dave")
        for client, nick in ((alice, "alice"), (carol, "carol"), (dave, "dave")):
            await join(client, "#pmcase", nick)
        # Unasked, an IRC user is the folded spelling: Bob[x] is bob{x}@component.
        await bob.send("PRIVMSG dave :first")
        await dave.inbox.message("first", "bob{x}@irc.localhost")

        alice.send_message("bob[x]@irc.localhost", "hi bob", mtype="chat")
        line = await bob.expect("PRIVMSG")
        assert line.source.startswith("alice!") and line.params == ["Bob[x]", "hi bob"]
        carol.send_message("BOB{X}@irc.localhost", "hi from carol", mtype="chat")
        assert (await bob.expect("PRIVMSG")).params == ["Bob[x]", "hi from carol"]

        await bob.send("PRIVMSG alice :answer alice")
        await alice.inbox.message("answer alice", "bob[x]@irc.localhost")
        await bob.send("PRIVMSG carol :answer carol")
        await carol.inbox.message("answer carol", "bob{x}@irc.localhost")
    finally:
        await bob.close()


async def test_a_channel_name_that_needs_escaping(gateway_server, xmpp_user):
    """XEP-0106: `&`, `@` and `/` of `#a&b@c/d` are escaped in the room JID."""
    server = await gateway_server()
    bob = await irc_client(server, "bob")
    escaped = r"#a\26b\40c\2fd@irc.localhost"
    try:
        await irc_join(bob, "#a&b@c/d")
        alice = await xmpp_user("alice")
        result = await alice.plugin["xep_0045"].join_muc_wait(escaped, "alice", maxstanzas=0,
                                                              timeout=10)
        assert [str(p["from"]) for p in result[2]] == [f"{escaped}/bob", f"{escaped}/alice"]
        assert (await bob.expect("JOIN")).params == ["#a&b@c/d"]
        assert (escaped, "#a&b@c/d (2)") in await disco_items(alice)

        alice.send_message(escaped, "escaped hello", mtype="groupchat")
        assert (await bob.expect("PRIVMSG")).params == ["#a&b@c/d", "escaped hello"]
        await bob.send("PRIVMSG #a&b@c/d :escaped answer")
        await alice.inbox.message("escaped answer", f"{escaped}/bob")
        alice.plugin["xep_0045"].leave_muc(escaped, "alice", "done")
        part = await bob.expect("PART")
        assert part.params == ["#a&b@c/d", "done"]
    finally:
        await bob.close()
