"""The relay comes back: after a words restart, a Prosody restart, a room that forgot it.

Each test checks that both pairs relay again afterwards, which is what a user
notices; the counters on the relay only tell the test when to look.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from relay_support import fresh_room, relay_config
from support import free_port, join, wait_until
from xmpp_support import ProsodyServer

from bridge.relay.config import parse_config
from bridge.relay.service import Relay
from bridge.relay.text import ZWSP
from words.config import Listen

pytestmark = pytest.mark.timeout(120)


async def check_both_ways(irc_client, xmpp_user, channel: str, text: str) -> None:
    xmpp_user.say(f"{text} from xmpp")
    msg = await irc_client.expect("PRIVMSG", channel)
    assert msg.params[1] == f"<{xmpp_user.nick[0]}{ZWSP}{xmpp_user.nick[1:]}> {text} from xmpp"
    await irc_client.send(f"PRIVMSG {channel} :{text} from irc")
    assert await xmpp_user.next_message() == ("irc", f"<{irc_client.nick}> {text} from irc")


async def test_irc_side_reconnects_and_rejoins_after_words_restarts(
        start_server, prosody, start_relay, connect, xmpp_user):
    first = await start_server()
    port = first.port
    room_a, room_b = fresh_room(prosody, "a"), fresh_room(prosody, "b")
    relay = await start_relay(relay_config(port, prosody, [
        {"channel": "#a", "room": room_a},
        {"channel": "#b", "room": room_b},
    ]))
    carol = await xmpp_user("carol", room_a)
    dave = await xmpp_user("dave", room_b)
    alice = await connect("alice", port=port)
    await join(alice, "#a")
    await check_both_ways(alice, carol, "#a", "before")

    await first.stop()
    irc = relay.irc["local"]
    await wait_until(lambda: not irc.joined_channels.is_set(), "the relay sees IRC go")
    # Nothing to relay to: dropped, not queued for later.
    carol.say("while irc is down")
    again = await start_server(listen=(Listen("127.0.0.1", port),))
    await wait_until(lambda: irc.connections == 2 and irc.joined_channels.is_set(),
                     "the relay back in #a and #b", timeout=30)

    alice, bob = await connect("alice", port=again.port), await connect("bob", port=again.port)
    await join(alice, "#a")
    await join(bob, "#b")
    await check_both_ways(alice, carol, "#a", "after")
    await check_both_ways(bob, dave, "#b", "after")
    assert [m.params[1] for m in alice.received if m.command == "PRIVMSG"] == [
        f"<c{ZWSP}arol> after from xmpp"]


@pytest.fixture
def own_prosody():
    """A Prosody of this test's own, which it may stop and start."""
    server = ProsodyServer()
    server.start()
    yield server
    server.close()


async def test_muc_side_reconnects_and_rejoins_after_prosody_restarts(
        server, own_prosody, start_relay, connect, xmpp_user):
    room_a, room_b = fresh_room(own_prosody, "a"), fresh_room(own_prosody, "b")
    relay = await start_relay(relay_config(server.port, own_prosody, [
        {"channel": "#a", "room": room_a},
        {"channel": "#b", "room": room_b},
    ]))
    alice, bob = await connect("alice"), await connect("bob")
    await join(alice, "#a")
    await join(bob, "#b")
    carol = await xmpp_user("carol", room_a, own_prosody)
    await check_both_ways(alice, carol, "#a", "before")

    session = relay.xmpp["main"]
    await asyncio.to_thread(own_prosody.stop)
    await wait_until(lambda: not session.session_up, "the relay sees the stream go")
    await alice.send("PRIVMSG #a :while xmpp is down")  # dropped, not queued
    await asyncio.to_thread(own_prosody.start)
    await wait_until(lambda: session.sessions == 2 and session.all_joined.is_set(),
                     "the relay back in both rooms", timeout=40)

    carol = await xmpp_user("carol", room_a, own_prosody)
    dave = await xmpp_user("dave", room_b, own_prosody)
    await check_both_ways(alice, carol, "#a", "after")
    await check_both_ways(bob, dave, "#b", "after")


async def test_self_ping_notices_a_room_that_forgot_us(server, prosody, start_relay, connect,
                                                       xmpp_user):
    room_a, room_b = fresh_room(prosody, "a"), fresh_room(prosody, "b")
    relay = await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room_a, "rejoin_delay": 0.1},
        {"channel": "#b", "room": room_b},
    ], self_ping={"interval": 0.3, "timeout": 5}))
    alice = await connect("alice")
    await join(alice, "#a")
    carol = await xmpp_user("carol", room_a)
    session = relay.xmpp["main"]
    room = session.rooms[room_a]

    # Leave the room behind the relay's back, and hide the room's answer from it:
    # only a self-ping can tell it is no longer an occupant.
    def hide_our_exit(stanza):
        if (stanza.name == "presence" and stanza["type"] == "unavailable"
                and stanza["from"] == f"{room_a}/irc"):
            return None
        return stanza

    session.client.add_filter("in", hide_our_exit)
    session.client.send_presence(pto=f"{room_a}/irc", ptype="unavailable")
    await wait_until(lambda: room.joins == 2 and room.joined, "the relay back in room a",
                     timeout=20)
    session.client.del_filter("in", hide_our_exit)
    assert session.sessions == 1  # the stream stayed up: the room alone was rejoined
    await check_both_ways(alice, carol, "#a", "after")


async def test_a_stalled_stream_is_replaced(server, own_prosody, start_relay, connect,
                                            xmpp_user):
    room_a = fresh_room(own_prosody, "a")
    relay = await start_relay(relay_config(server.port, own_prosody, [
        {"channel": "#a", "room": room_a},
    ], self_ping={"interval": 0.3, "timeout": 1}))
    alice = await connect("alice")
    await join(alice, "#a")
    session = relay.xmpp["main"]
    # A stopped Prosody keeps its sockets open and answers nothing: no close to notice.
    own_prosody.proc.send_signal(signal.SIGSTOP)
    try:
        await wait_until(lambda: not session.session_up, "the relay gives the stream up",
                         timeout=20)
    finally:
        own_prosody.proc.send_signal(signal.SIGCONT)
    await wait_until(lambda: session.sessions == 2 and session.all_joined.is_set(),
                     "a new stream, the room rejoined", timeout=40)
    carol = await xmpp_user("carol", room_a, own_prosody)
    await check_both_ways(alice, carol, "#a", "after")


async def test_a_refused_xmpp_password_stops_the_relay_without_retrying(server, prosody):
    raw = relay_config(server.port, prosody, [{"channel": "#a", "room": fresh_room(prosody, "a")}])
    raw["xmpp"]["main"]["password"] = "not the password"
    relay = Relay(parse_config(raw, "test.yaml"))
    assert await asyncio.wait_for(relay.run(), 30) == 1
    assert relay.xmpp["main"].fatal_error == f"XMPP login refused for relay@{prosody.domain}"
    assert relay.xmpp["main"].sessions == 0
    assert relay.irc["local"].quitting  # the IRC side was told to quit too


async def test_without_tls_plaintext_the_relay_never_logs_in_in_cleartext(server, prosody):
    raw = relay_config(server.port, prosody, [{"channel": "#a", "room": fresh_room(prosody, "a")}])
    del raw["xmpp"]["main"]["tls"]  # the default, starttls, against a server offering none
    relay = Relay(parse_config(raw, "test.yaml"))
    assert await asyncio.wait_for(relay.run(), 30) == 1
    assert relay.xmpp["main"].fatal_error == (
        f"the XMPP server offers no TLS, and relay@{prosody.domain} will not log in in "
        f"cleartext (tls: plaintext allows it)")
    assert relay.xmpp["main"].sessions == 0


async def test_a_stalled_irc_connection_is_replaced(words_process, prosody, start_relay,
                                                    connect, xmpp_user):
    port = free_port()
    proc = words_process(port=port)
    room_a = fresh_room(prosody, "a")
    relay = await start_relay(relay_config(port, prosody, [{"channel": "#a", "room": room_a}],
                                           irc={"ping": {"interval": 0.3, "timeout": 1}}))
    irc = relay.irc["local"]
    # A stopped words keeps its sockets open and answers nothing: no close to notice.
    proc.send_signal(signal.SIGSTOP)
    try:
        await wait_until(lambda: not irc.joined_channels.is_set(), "the relay gives IRC up",
                         timeout=20)
    finally:
        proc.send_signal(signal.SIGCONT)
    await wait_until(lambda: irc.connections >= 2 and irc.joined_channels.is_set(),
                     "a new connection, #a rejoined", timeout=40)
    alice = await connect("alice", port=port)
    await join(alice, "#a")
    carol = await xmpp_user("carol", room_a)
    await check_both_ways(alice, carol, "#a", "after")
