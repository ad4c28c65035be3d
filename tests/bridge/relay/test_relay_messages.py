"""The relay end to end: a words server, the session's Prosody, one relay with two pairs.

#a <-> room a and #b <-> room b in one relay process; IRC users are raw
clients, XMPP users slixmpp clients. Every check reads what arrived up to a
later marker, so a line that should not have been relayed would be seen.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from relay_support import fresh_room, relay_config
from support import join

from bridge.relay.text import ZWSP

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def two_pairs(server, prosody, start_relay, connect, xmpp_user):
    """The relay on #a <-> room a, #b <-> room b; alice (#a), bob (#b), carol (a), dave (b)."""
    room_a, room_b = fresh_room(prosody, "a"), fresh_room(prosody, "b")
    relay = await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room_a},
        {"channel": "#b", "room": room_b},
    ]))
    alice, bob = await connect("alice"), await connect("bob")
    await join(alice, "#a")
    await join(bob, "#b")
    carol = await xmpp_user("carol", room_a)
    dave = await xmpp_user("dave", room_b)
    return SimpleNamespace(server=server, relay=relay, alice=alice, bob=bob, carol=carol,
                           dave=dave)


async def relayed_privmsgs(client, channel: str) -> list[str]:
    """The PRIVMSG texts in `channel` from the relay, read up to a PONG."""
    return [m.params[1] for m in await client.until_pong()
            if m.command == "PRIVMSG" and m.nick == "relay" and m.params[0] == channel]


async def test_messages_both_ways_in_both_pairs_without_crosstalk(two_pairs):
    alice, bob, carol, dave = two_pairs.alice, two_pairs.bob, two_pairs.carol, two_pairs.dave
    # One IRC connection for both pairs (alice, bob and the relay are all the server has),
    # one XMPP session for both rooms.
    assert len(two_pairs.server.connections) == 3
    assert len(two_pairs.relay.xmpp) == 1
    session = two_pairs.relay.xmpp["main"]
    assert sorted(session.rooms) == sorted([carol.room, dave.room])
    await alice.send("PRIVMSG #a :hello from irc a")
    assert await carol.next_message() == ("irc", "<alice> hello from irc a")
    await bob.send("PRIVMSG #b :hello from irc b")
    # dave's first message is bob's: alice's did not cross into room b.
    assert await dave.next_message() == ("irc", "<bob> hello from irc b")

    carol.say("hello from xmpp a")
    msg = await alice.expect("PRIVMSG", "#a")
    assert msg.nick == "relay"
    assert msg.params[1] == f"<c{ZWSP}arol> hello from xmpp a"
    dave.say("hello from xmpp b")
    msg = await bob.expect("PRIVMSG", "#b")
    assert msg.params[1] == f"<d{ZWSP}ave> hello from xmpp b"

    # No echo: the relay's own lines in #a and its reflections in room a came back to
    # it and were not relayed again; no cross-talk: bob saw nothing of pair a.
    carol.say("second")
    assert (await alice.expect("PRIVMSG", "#a")).params[1] == f"<c{ZWSP}arol> second"
    assert await relayed_privmsgs(alice, "#a") == []
    assert await relayed_privmsgs(bob, "#b") == []
    await alice.send("PRIVMSG #a :marker")
    assert await carol.next_message() == ("irc", "<alice> marker")
    assert carol.messages.empty()


async def test_actions_both_ways(two_pairs):
    alice, carol = two_pairs.alice, two_pairs.carol
    await alice.send("PRIVMSG #a :\x01ACTION waves\x01")
    assert await carol.next_message() == ("irc", "/me alice waves")
    carol.say("/me waves back")
    msg = await alice.expect("PRIVMSG", "#a")
    assert msg.nick == "relay"
    assert msg.params[1] == f"\x01ACTION c{ZWSP}arol waves back\x01"
    # "/me" alone, or inside a line, is no action.
    carol.say("/me")
    assert (await alice.expect("PRIVMSG", "#a")).params[1] == f"<c{ZWSP}arol> /me"


async def test_a_2000_character_message_is_split_into_whole_lines(two_pairs):
    alice, carol = two_pairs.alice, two_pairs.carol
    words = [f"word{i:04d}é" for i in range(250)]  # 9 characters, 10 bytes each
    text = " ".join(words)[:1999] + "!"  # the 2000th character would be a space
    assert len(text) == 2000
    carol.say(text)
    lines = []
    while sum(len(line) for line in lines) < 2000 - 20:
        msg = await alice.expect("PRIVMSG", "#a")
        # As relayed to alice, with the relay's full source: within 512 bytes with CR LF.
        assert len(msg.to_line().encode()) + 2 <= 512
        assert msg.params[1].startswith(f"<c{ZWSP}arol> ")
        lines.append(msg.params[1].removeprefix(f"<c{ZWSP}arol> "))
    assert len(lines) == 5
    # Cut at spaces only: the pieces joined by spaces are the message again.
    assert " ".join(lines) == text
    assert all(len(line.encode()) > 300 for line in lines[:-1])
    assert await relayed_privmsgs(alice, "#a") == []


async def test_a_multi_line_message_is_one_irc_line_per_line(two_pairs):
    alice, carol = two_pairs.alice, two_pairs.carol
    carol.say("first line\nsecond line\n\nthird line")
    for text in ("first line", "second line", "third line"):
        assert (await alice.expect("PRIVMSG", "#a")).params[1] == f"<c{ZWSP}arol> {text}"
    assert await relayed_privmsgs(alice, "#a") == []


async def test_irc_formatting_is_stripped_for_xmpp(two_pairs):
    alice, carol = two_pairs.alice, two_pairs.carol
    await alice.send("PRIVMSG #a :\x02bold\x02 and \x0304,01red\x03 \x1ditalic\x1d")
    assert await carol.next_message() == ("irc", "<alice> bold and red italic")


async def test_custom_formats_and_no_highlight_breaking_in_one_pair_only(
        server, prosody, start_relay, connect, xmpp_user):
    room_a, room_b = fresh_room(prosody, "a"), fresh_room(prosody, "b")
    await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room_a, "irc_message": "[{nick}] {text}",
         "irc_action": "{nick} {text} (xmpp)", "xmpp_message": "{nick} on IRC: {text}",
         "xmpp_action": "/me {nick}@irc {text}", "break_highlights": False},
        {"channel": "#b", "room": room_b},  # the defaults
    ]))
    alice, bob = await connect("alice"), await connect("bob")
    await join(alice, "#a")
    await join(bob, "#b")
    carol = await xmpp_user("carol", room_a)
    dave = await xmpp_user("dave", room_b)

    carol.say("hello alice")
    carol.say("/me waves")
    carol.say("two\nlines")
    # Exactly these: the nick as it is (no zero-width space), each line formatted.
    assert [(await alice.expect("PRIVMSG", "#a")).params[1] for _ in range(4)] == [
        "[carol] hello alice", "\x01ACTION carol waves (xmpp)\x01", "[carol] two",
        "[carol] lines"]
    await alice.send("PRIVMSG #a :hello carol")
    await alice.send("PRIVMSG #a :\x01ACTION nods\x01")
    assert await carol.next_message() == ("irc", "alice on IRC: hello carol")
    assert await carol.next_message() == ("irc", "/me alice@irc nods")

    # The other pair keeps the defaults.
    dave.say("hello bob")
    assert (await bob.expect("PRIVMSG", "#b")).params[1] == f"<d{ZWSP}ave> hello bob"
    await bob.send("PRIVMSG #b :\x01ACTION nods\x01")
    assert await dave.next_message() == ("irc", "/me bob nods")
    assert await relayed_privmsgs(alice, "#a") == []


async def test_join_part_notices_only_where_asked(server, prosody, start_relay, connect,
                                                  xmpp_user):
    room_a, room_b = fresh_room(prosody, "a"), fresh_room(prosody, "b")
    await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room_a, "join_part": True},
        {"channel": "#b", "room": room_b},
    ]))
    alice, bob = await connect("alice"), await connect("bob")
    carol = await xmpp_user("carol", room_a)
    dave = await xmpp_user("dave", room_b)
    await join(alice, "#a", "#b")
    await join(bob, "#b")
    await alice.send("JOIN #a")  # already in: nothing
    assert await carol.next_message() == ("irc", "* alice joined #a")
    await alice.send("PART #a :off to lunch")
    assert await carol.next_message() == ("irc", "* alice left #a (off to lunch)")
    await alice.send("JOIN #a")
    assert await carol.next_message() == ("irc", "* alice joined #a")
    await alice.send("NICK alicia")
    assert await carol.next_message() == ("irc", "* alice is now known as alicia")
    await alice.send("QUIT :bye")
    assert await carol.next_message() == ("irc", "* alicia quit IRC (Quit: bye)")
    # Pair b relays no joins: dave's first message is bob's text.
    await bob.send("PRIVMSG #b :only text here")
    assert await dave.next_message() == ("irc", "<bob> only text here")

    # XMPP -> IRC as NOTICEs, in pair a only.
    watcher = await connect("watcher")
    await join(watcher, "#a", "#b")
    erin = await xmpp_user("erin", room_a)
    msg = await watcher.expect("NOTICE", "#a")
    assert msg.params[1] == f"* e{ZWSP}rin joined {room_a}"
    await erin.client.plugin["xep_0045"].set_self_nick(erin.room, "erin2")
    msg = await watcher.expect("NOTICE", "#a")
    assert msg.params[1] == f"* e{ZWSP}rin is now known as e{ZWSP}rin2"
    erin.client.plugin["xep_0045"].leave_muc(erin.room, "erin2", "gone")
    msg = await watcher.expect("NOTICE", "#a")
    assert msg.params[1] == f"* e{ZWSP}rin2 left {room_a} (gone)"
    await xmpp_user("frank", room_b)
    dave.say("text in b")
    msg = await watcher.expect("PRIVMSG", "#b")
    assert msg.params[1] == f"<d{ZWSP}ave> text in b"
    assert [m.to_line() for m in watcher.received if m.command == "NOTICE"
            and m.params[0] == "#b"] == []


async def test_kick_notices_both_ways_only_where_asked(server, prosody, start_relay, connect,
                                                       xmpp_user):
    room_a, room_b = fresh_room(prosody, "a"), fresh_room(prosody, "b")
    # Each side's kicker is there first: alice is op in #a and #b, olga owns room a, dave b.
    alice = await connect("alice")
    await join(alice, "#a", "#b")
    olga = await xmpp_user("olga", room_a)
    dave = await xmpp_user("dave", room_b)
    await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room_a, "join_part": True},
        {"channel": "#b", "room": room_b},
    ]))
    bob = await connect("bob")
    await join(bob, "#a", "#b")
    assert await olga.next_message() == ("irc", "* bob joined #a")
    await alice.send("KICK #a bob :flooding")
    assert await olga.next_message() == ("irc", "* bob was kicked from #a by alice (flooding)")
    await alice.send("KICK #b bob :not relayed")
    await alice.expect("KICK", "#b", "bob")

    erin = await xmpp_user("erin", room_a)
    assert (await alice.expect("NOTICE", "#a")).params[1] == f"* e{ZWSP}rin joined {room_a}"
    await olga.client.plugin["xep_0045"].set_role(room_a, erin.nick, "none", reason="spam")
    msg = await alice.expect("NOTICE", "#a")
    assert (msg.nick, msg.params[1]) == ("relay", f"* e{ZWSP}rin was kicked from {room_a} (spam)")
    frank = await xmpp_user("frank", room_b)
    await dave.client.plugin["xep_0045"].set_role(room_b, frank.nick, "none", reason="quiet")

    # Pair b relays no kicks: dave's next message and alice's next line in #b are markers.
    await alice.send("PRIVMSG #b :marker")
    assert await dave.next_message() == ("irc", "<alice> marker")
    dave.say("marker too")
    assert (await alice.expect("PRIVMSG", "#b")).params[1] == f"<d{ZWSP}ave> marker too"
    assert [m.to_line() for m in alice.received if m.command == "NOTICE"
            and m.params[0] == "#b"] == []


async def test_topic_and_subject_sync_when_on(server, prosody, start_relay, connect, xmpp_user):
    room_a, room_b = fresh_room(prosody, "a"), fresh_room(prosody, "b")
    relay = await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room_a, "topic_sync": True},
        {"channel": "#b", "room": room_b},
    ]))
    alice, bob = await connect("alice"), await connect("bob")
    await join(alice, "#a")
    await join(bob, "#b")
    carol = await xmpp_user("carol", room_a)
    dave = await xmpp_user("dave", room_b)
    # The relay created both channel and room: it makes the humans able to change topics.
    irc = relay.irc["local"]
    irc.mode("#a", "+o", "alice")
    irc.mode("#b", "+o", "bob")
    await alice.expect("MODE", "#a", "+o", "alice")
    await bob.expect("MODE", "#b", "+o", "bob")
    muc = relay.xmpp["main"].client.plugin["xep_0045"]
    await muc.set_role(room_a, "carol", "moderator")
    await muc.set_role(room_b, "dave", "moderator")

    await alice.send("TOPIC #a :the irc topic")
    assert await carol.next_subject() == ("irc", "the irc topic")
    carol.client.plugin["xep_0045"].set_subject(room_a, "the xmpp\nsubject")
    msg = await alice.expect("TOPIC", "#a")
    if msg.nick == "alice":  # her own TOPIC, echoed
        msg = await alice.expect("TOPIC", "#a")
    assert (msg.nick, msg.params[1]) == ("relay", "the xmpp subject")
    # The relay's own TOPIC is not sent back as a subject: carol's next subject is alice's.
    await alice.send("TOPIC #a :again from irc")
    assert await carol.next_subject() == ("irc", "again from irc")
    assert carol.subjects.empty()

    # Off in pair b: neither way.
    await bob.send("TOPIC #b :not relayed")
    dave.client.plugin["xep_0045"].set_subject(room_b, "not relayed either")
    assert await dave.next_subject(own=True) == ("dave", "not relayed either")
    await bob.send("PRIVMSG #b :marker")
    assert await dave.next_message() == ("irc", "<bob> marker")
    assert dave.subjects.empty()
    assert [m for m in await bob.until_pong() if m.command == "TOPIC" and m.nick == "relay"] == []
