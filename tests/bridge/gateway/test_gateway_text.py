"""Text between the two sides: history on join, formatting, and what IRC has no form for."""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from gateway_support import irc_client, join, room
from slixmpp.plugins import xep_0082
from support import RawClient, wait_until

SID = "{urn:xmpp:sid:0}"



async def test_recent_history_comes_with_delay_before_the_subject(gateway_server, xmpp_user):
    server = await gateway_server(history=2)
    bob = await irc_client(server, "bob", "#past")
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


async def said_in(server, bob: RawClient, channel: str, texts: list[str]) -> list[float]:
    """Bob says each of `texts`, each in a later millisecond; their times in the history."""
    times = []
    for text in texts:
        if times:  # a `since` may fall between two messages
            await wait_until(lambda: time.time() > times[-1] + 0.002, "the clock to move on")
        await bob.send(f"PRIVMSG {channel} :{text}")
        await bob.until_pong()
        times.append((await server.realm.history.latest(channel, 1))[0].time)
    return times


async def test_the_clients_history_request_is_honoured(gateway_server, xmpp_user):
    """XEP-0045 7.2.15: maxchars (0: none), maxstanzas, seconds, since."""
    server = await gateway_server()
    bob = await irc_client(server, "bob", "#asked")
    texts = ["old", *(f"{n} " + "x" * 400 for n in (1, 2, 3))]
    try:
        times = await said_in(server, bob, "#asked", texts)

        async def history(**request) -> list[str]:
            client = await xmpp_user("amy")
            result = await join(client, "#asked", "amy", **{"maxstanzas": None, **request})
            return [m["body"] for m in result.history]

        assert await history() == texts  # none asked: the gateway's limit (20)
        assert await history(maxstanzas=2) == texts[2:]
        assert await history(maxchars=0) == []
        # One 400-character message and its envelope fit in 1000 characters, two do not.
        assert await history(maxchars=1000) == texts[3:]
        assert await history(seconds=3600) == texts
        assert await history(seconds=0) == []
        # From the second message on (its millisecond, which the first is before).
        since = datetime.fromtimestamp(math.floor(times[1] * 1000) / 1000, UTC)
        assert await history(since=since) == texts[1:]
    finally:
        await bob.close()


async def test_history_on_join_is_what_chathistory_latest_gives(
        gateway_server, xmpp_user, tmp_path):
    """On the SQL realm: the same bodies, in the same order, stanza-ids the IRC msgids."""
    server = await gateway_server(config={"database": f"sqlite:///{tmp_path / 'words.db'}"})
    bob = await irc_client(server, "bob", "#logged")
    carol = await irc_client(server, "carol", "#logged")
    try:
        for n in range(6):  # one at a time: two connections' lines have no order
            sender = bob if n % 2 else carol
            await sender.send(f"PRIVMSG #logged :message number {n}")
            await sender.until_pong()
        await bob.send("NOTICE #logged :a notice too")
        await bob.until_pong()
        await carol.send("CAP REQ :batch server-time message-tags draft/chathistory")
        await carol.expect("CAP", "carol", "ACK")
        await carol.send("CHATHISTORY LATEST #logged * 4")
        await carol.expect("BATCH")
        irc_lines = []
        while (line := await carol.read_message()).command != "BATCH":
            irc_lines.append(line)
        assert [m.params[-1] for m in irc_lines] == [
            "message number 3", "message number 4", "message number 5", "a notice too"]

        alice = await xmpp_user("alice")
        result = await join(alice, "#logged", "alice", maxstanzas=4)
        assert [m["body"] for m in result.history] == [m.params[-1] for m in irc_lines]
        assert [m.xml.find(f"{SID}stanza-id").get("id") for m in result.history] == [
            m.tags["msgid"] for m in irc_lines]
        assert [m["id"] for m in result.history] == [m.tags["msgid"] for m in irc_lines]
        assert [m["delay"]["stamp"] for m in result.history] == [
            xep_0082.parse(m.tags["time"]) for m in irc_lines]
        assert [str(m["from"]) for m in result.history] == [
            f"{room('#logged')}/{m.source.split('!')[0]}" for m in irc_lines]
    finally:
        await bob.close()
        await carol.close()


async def test_formatting_is_styling_both_ways(gateway_server, xmpp_user):
    server = await gateway_server()
    bob = await irc_client(server, "bob", "#style")
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
    bob = await irc_client(server, "bob", "#plain")
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
    bob = await irc_client(server, "bob", "#rich")
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
    bob = await irc_client(server, "bob", "#ctl")
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
    bob = await irc_client(server, "bob", "#lines")
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
