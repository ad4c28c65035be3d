"""Text between the two sides: history on join, formatting, and what IRC has no form for."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gateway_support import join, room
from support import RawClient
from support import join as irc_join


async def irc(server, nick: str, channel: str) -> RawClient:
    client = await RawClient.connect(server.port)
    await client.register(nick)
    await irc_join(client, channel)
    return client


async def test_recent_history_comes_with_delay_before_the_subject(gateway_server, xmpp_user):
    server = await gateway_server(history=2)
    bob = await irc(server, "bob", "#past")
    try:
        for text in ("one", "two", "\x01ACTION three\x01"):
            await bob.send(f"PRIVMSG #past :{text}")
        await bob.until_pong()
        alice = await xmpp_user("alice")
        result = await join(alice, "#past", "alice", maxstanzas=10)
        bodies = [m["body"] for m in result.history]
        assert bodies == ["two", "/me three"]  # xmpp.history caps it at 2
        for msg in result.history:
            assert str(msg["from"]) == f"{room('#past')}/bob"
            assert msg["delay"]["from"] == room("#past")
            assert msg["delay"]["stamp"] is not None
        again = await xmpp_user("amy")
        assert (await join(again, "#past", "amy", maxstanzas=0)).history == []
    finally:
        await bob.close()


async def test_formatting_is_styling_both_ways(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc(server, "bob", "#style")
    try:
        alice = await xmpp_user("alice")
        await join(alice, "#style", "alice")
        await bob.send("PRIVMSG #style :a \x02bold\x02 and \x1ditalic\x1d and \x0304red\x03 word")
        await alice.inbox.message("a *bold* and _italic_ and red word")
        alice.send_message(room("#style"), "say *this* and ~not that~ to snake_case", mtype="groupchat")
        line = await bob.expect("PRIVMSG")
        assert line.params[-1] == "say \x02this\x02 and \x1enot that\x1e to snake_case"
    finally:
        await bob.close()


async def test_formatting_can_be_stripped(gateway_server, xmpp_user):
    server = await gateway_server(formatting="strip")
    bob = await irc(server, "bob", "#plain")
    try:
        alice = await xmpp_user("alice")
        await join(alice, "#plain", "alice")
        await bob.send("PRIVMSG #plain :a \x02bold\x02 \x0304,01red\x03 word")
        await alice.inbox.message("a bold red word")
        alice.send_message(room("#plain"), "*stars* stay", mtype="groupchat")
        assert (await bob.expect("PRIVMSG")).params[-1] == "*stars* stay"
    finally:
        await bob.close()


def child(msg, tag: str, **attrs) -> ET.Element:
    element = ET.SubElement(msg.xml, tag, attrs)
    return element


async def test_corrections_replies_and_reactions_become_explicit_text(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc(server, "bob", "#rich")
    try:
        alice = await xmpp_user("alice")
        await join(alice, "#rich", "alice")
        await bob.send("PRIVMSG #rich :does anyone like tea with a lot of milk in it?")
        original = await alice.inbox.message("does anyone like tea with a lot of milk in it?")
        stanza_id = original.xml.find("{urn:xmpp:sid:0}stanza-id").get("id")

        first = alice.make_message(room("#rich"), "I like tee", mtype="groupchat")
        first["id"] = "m1"
        first.send()
        assert (await bob.expect("PRIVMSG")).params[-1] == "I like tee"
        fixed = alice.make_message(room("#rich"), "I like tea", mtype="groupchat")
        child(fixed, "{urn:xmpp:message-correct:0}replace", id="m1")
        fixed.send()
        assert (await bob.expect("PRIVMSG")).params[-1] == "[correction] I like tea"

        quote = "> bob wrote:\n> does anyone like tea\n"
        reply = alice.make_message(room("#rich"), quote + "me!", mtype="groupchat")
        child(reply, "{urn:xmpp:reply:0}reply", to=f"{room('#rich')}/bob", id=stanza_id)
        fallback = child(reply, "{urn:xmpp:fallback:0}fallback", **{"for": "urn:xmpp:reply:0"})
        ET.SubElement(fallback, "{urn:xmpp:fallback:0}body", start="0", end=str(len(quote)))
        reply.send()
        assert (await bob.expect("PRIVMSG")).params[-1] == "bob: me!"

        reaction = alice.make_message(room("#rich"), mtype="groupchat")
        reactions = child(reaction, "{urn:xmpp:reactions:0}reactions", id=stanza_id)
        ET.SubElement(reactions, "{urn:xmpp:reactions:0}reaction").text = "👍"
        reaction.send()
        line = await bob.expect("PRIVMSG")
        assert line.params[-1] == (
            '\x01ACTION reacted with 👍 to bob: "does anyone like tea with a lot of milk…"\x01')
    finally:
        await bob.close()


async def test_control_characters_never_reach_the_xml_stream(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc(server, "bob", "#ctl")
    try:
        alice = await xmpp_user("alice")
        await join(alice, "#ctl", "alice")
        await bob.send("PRIVMSG #ctl :\x01VERSION\x01")  # a CTCP request: IRC clients only
        await bob.send("PRIVMSG #ctl :bell\x07 \x16reverse\x16 \x1funder\x1f here")
        await alice.inbox.message("bell reverse under here", f"{room('#ctl')}/bob")
        await bob.send("PART #ctl :bye\x07\x02!")
        gone = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable", "bob's part")
        assert gone["status"] == "bye!"
        await bob.send("JOIN #ctl")
        await bob.send("PRIVMSG #ctl :still connected")
        await alice.inbox.message("still connected")
        assert server.gateway.link.connects == 1  # the stream was never closed on us
        assert not [s for s in alice.inbox.stanzas if s.name == "message" and "VERSION" in
                    (s["body"] or "")]
    finally:
        await bob.close()


async def test_xmpp_text_for_one_line_irc_fields_stays_one_line(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc(server, "bob", "#lines")
    try:
        await bob.send("MODE #lines -t")
        await bob.expect("MODE")
        alice = await xmpp_user("alice")
        await join(alice, "#lines", "alice")
        await bob.expect("JOIN")
        subject = alice.make_message(room("#lines"), mtype="groupchat")
        subject["subject"] = "first\nsecond\r\nthird"
        subject.send()
        assert (await bob.expect("TOPIC")).params == ["#lines", "first second third"]
        await bob.send("CAP REQ away-notify")
        await bob.expect("CAP")
        alice.send_presence(pto=f"{room('#lines')}/alice", pshow="away", pstatus="out\nfor lunch")
        assert (await bob.expect("AWAY")).params == ["out for lunch"]
        alice.plugin["xep_0045"].leave_muc(room("#lines"), "alice", "bye\nnow")
        part = await bob.expect("PART")
        assert part.params == ["#lines", "bye now"]
    finally:
        await bob.close()
