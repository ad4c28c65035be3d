"""The relay's IRC side: PASS and SASL with words.cred credentials, the limiter, keys,
giving up."""

from __future__ import annotations

import asyncio
import time

import pytest
from relay_support import fresh_room, relay_config
from support import join, wait_until

from bridge.relay.config import parse_config
from bridge.relay.service import Relay
from bridge.relay.text import ZWSP
from words.cred import PasswordHasher
from words.cred.scram import ScramVerifier

pytestmark = pytest.mark.timeout(90)

HASHER = PasswordHasher.from_config({"ln": 4})  # what make_config's `hashing` builds


async def test_sasl_scram_logs_the_relay_in(start_server, prosody, start_relay):
    server = await start_server(scram=True)
    await server.realm.accounts.create(
        "relayacct", HASHER.hash("relay secret"),
        scram=str(ScramVerifier.from_password("relay secret")))
    relay = await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": fresh_room(prosody, "a")},
    ], irc={"sasl": {"mechanism": "SCRAM-SHA-256", "username": "relayacct",
                     "password": "relay secret"}}))
    assert relay.irc["local"].account == "relayacct"


async def test_a_refused_sasl_password_stops_the_whole_relay(start_server, prosody):
    server = await start_server(auth=("memory:relayacct:right",))
    relay = Relay(parse_config(relay_config(server.port, prosody, [
        {"channel": "#a", "room": fresh_room(prosody, "a")},
    ], irc={"sasl": {"mechanism": "PLAIN", "username": "relayacct", "password": "wrong"}}),
        "test.yaml"))
    # 1, not a retry loop; the XMPP side is stopped too rather than relaying half.
    assert await asyncio.wait_for(relay.run(), 20) == 1
    assert relay.irc["local"].fatal_error == "SASL authentication failed"
    assert relay.xmpp["main"].stopping


async def test_the_server_password_logs_the_relay_in(start_server, prosody, start_relay,
                                                    connect, xmpp_user):
    # Every connection needs a password here: none is refused ("Password required").
    server = await start_server(auth=("memory:relay:pass word:alice:alicepw",))
    room = fresh_room(prosody, "a")
    relay = await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room},
    ], irc={"password": "pass word"}))
    assert relay.irc["local"].connections == 1
    alice = await connect("alice", password="alicepw", port=server.port)
    await join(alice, "#a")
    carol = await xmpp_user("carol", room)
    await alice.send("PRIVMSG #a :behind a server password")
    assert await carol.next_message() == ("irc", "<alice> behind a server password")
    carol.say("and back")
    assert (await alice.expect("PRIVMSG", "#a")).params[1] == f"<c{ZWSP}arol> and back"


@pytest.mark.parametrize(("password", "refusal"), [("wrong", "password incorrect"),
                                                 (None, "password required")])
async def test_a_refused_server_password_stops_the_whole_relay(start_server, prosody, caplog,
                                                               password, refusal):
    server = await start_server(auth=("memory:relay:right",))
    irc = {"password": password} if password else {}
    relay = Relay(parse_config(relay_config(server.port, prosody, [
        {"channel": "#a", "room": fresh_room(prosody, "a")},
    ], irc=irc), "test.yaml"))
    # 1 after one connection, not a reconnect loop; the XMPP side is stopped too.
    assert await asyncio.wait_for(relay.run(), 20) == 1
    client = relay.irc["local"]
    assert (client.connections, client.fatal_error) == (1, refusal)
    assert f"IRC network local: {refusal}" in caplog.messages
    assert relay.xmpp["main"].stopping
    assert not any("reconnecting" in m for m in caplog.messages)


async def test_the_limiter_paces_relayed_lines(server, prosody, start_relay, connect, xmpp_user):
    room = fresh_room(prosody, "a")
    await start_relay(relay_config(server.port, prosody, [{"channel": "#a", "room": room}],
                                   irc={"flood": {"burst": 2, "rate": 5}}))
    alice = await connect("alice")
    await join(alice, "#a")
    carol = await xmpp_user("carol", room)
    carol.say("\n".join(f"line {i}" for i in range(6)))
    arrived = []
    for i in range(6):
        msg = await alice.expect("PRIVMSG", "#a")
        assert msg.params[1] == f"<c{ZWSP}arol> line {i}"
        arrived.append(time.monotonic())
    # Two at once, then one each 0.2 s: the last four took at least 0.8 s (minus slack).
    assert arrived[-1] - arrived[1] >= 0.7


async def test_a_keyed_channel_is_joined_with_its_key(server, prosody, start_relay, connect,
                                                      xmpp_user):
    alice = await connect("alice")
    await join(alice, "#vault")
    await alice.send("MODE #vault +k sesame")
    await alice.expect("MODE", "#vault", "+k", "sesame")
    room = fresh_room(prosody, "v")
    await start_relay(relay_config(server.port, prosody, [
        {"channel": "#vault", "room": room, "channel_key": "sesame"},
    ]))
    carol = await xmpp_user("carol", room)
    await alice.send("PRIVMSG #vault :inside")
    assert await carol.next_message() == ("irc", "<alice> inside")


async def test_kicked_from_a_channel_the_relay_rejoins_it(server, prosody, start_relay, connect,
                                                          xmpp_user):
    room = fresh_room(prosody, "a")
    relay = await start_relay(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room, "rejoin_delay": 0.1},
    ]))
    alice = await connect("alice")
    await join(alice, "#a")
    relay.irc["local"].mode("#a", "+o", "alice")
    await alice.expect("MODE", "#a", "+o", "alice")
    await alice.send("KICK #a relay :out")
    await alice.expect("KICK", "#a", "relay")
    rejoined = await alice.expect("JOIN", "#a")
    assert rejoined.nick == "relay"
    carol = await xmpp_user("carol", room)
    await alice.send("PRIVMSG #a :still relayed")
    assert await carol.next_message() == ("irc", "<alice> still relayed")


async def test_a_refused_join_is_reported_and_asked_again_later(server, prosody, connect, caplog):
    alice = await connect("alice")
    await join(alice, "#closed")
    await alice.send("MODE #closed +i")
    await alice.expect("MODE", "#closed", "+i")
    relay = Relay(parse_config(relay_config(server.port, prosody, [
        {"channel": "#closed", "room": fresh_room(prosody, "c")},
    ]), "test.yaml"))
    task = asyncio.ensure_future(relay.run())
    expected = "local: cannot join #closed: Cannot join channel (+i); trying again in 60s"
    await wait_until(lambda: any(m.startswith("local: cannot join #closed") for m in
                                 caplog.messages), "the refusal logged")
    assert expected in caplog.messages
    assert len(relay.irc["local"]._timers) == 1  # the next attempt
    relay.stop()
    assert await asyncio.wait_for(task, 15) == 0
