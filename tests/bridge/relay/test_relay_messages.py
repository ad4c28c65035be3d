"""The relay end to end: a words server, the session's Prosody, one relay with two pairs.

#a <-> room a and #b <-> room b in one relay process; IRC users are raw
clients, XMPP users slixmpp clients. Every check reads what arrived up to a
later marker, so a line that should not have been relayed would be seen.
"""

from __future__ import annotations

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
    return relay, alice, bob, carol, dave


async def relayed_privmsgs(client, channel: str) -> list[str]:
    """The PRIVMSG texts in `channel` from the relay, read up to a PONG."""
    return [m.params[1] for m in await client.until_pong()
            if m.command == "PRIVMSG" and m.nick == "relay" and m.params[0] == channel]


async def test_messages_both_ways_in_both_pairs_without_crosstalk(two_pairs):
    relay, alice, bob, carol, dave = two_pairs
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
