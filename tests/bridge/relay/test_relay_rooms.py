"""The relay's XMPP side in its rooms: passwords, refusals, a taken nick, a kick."""

from __future__ import annotations

import asyncio

import pytest
from relay_support import fresh_room, relay_config
from support import join, wait_until

from bridge.relay.config import parse_config
from bridge.relay.service import Relay
from bridge.relay.text import ZWSP

pytestmark = pytest.mark.timeout(90)


async def test_a_password_protected_room_is_joined_with_its_password(
        server, prosody, start_relay, connect, xmpp_user):
    room = fresh_room(prosody, "p")
    owner = await xmpp_user("olga", room)  # created the room: its owner
    muc = owner.client.plugin["xep_0045"]
    form = await muc.get_room_config(room)
    form.reply()  # a submit form: only the fields set below change
    form.set_values({"muc#roomconfig_passwordprotectedroom": True,
                     "muc#roomconfig_roomsecret": "open sesame"})
    await muc.set_room_config(room, form)
    await start_relay(relay_config(server.port, prosody, [
        {"channel": "#p", "room": room, "room_password": "open sesame"},
    ]))
    alice = await connect("alice")
    await join(alice, "#p")
    await alice.send("PRIVMSG #p :behind the password")
    assert await owner.next_message() == ("irc", "<alice> behind the password")


async def test_a_wrong_room_password_is_reported_at_once(server, prosody, xmpp_user, caplog):
    room = fresh_room(prosody, "p")
    owner = await xmpp_user("olga", room)
    muc = owner.client.plugin["xep_0045"]
    form = await muc.get_room_config(room)
    form.reply()
    form.set_values({"muc#roomconfig_passwordprotectedroom": True,
                     "muc#roomconfig_roomsecret": "open sesame"})
    await muc.set_room_config(room, form)
    relay = Relay(parse_config(relay_config(server.port, prosody, [
        {"channel": "#p", "room": room, "room_password": "wrong"},
    ]), "test.yaml"))
    task = asyncio.ensure_future(relay.run())
    expected = f"main: cannot join {room}: not-authorized; trying again in 60s"
    await wait_until(lambda: expected in caplog.messages, "the refusal logged")
    assert not relay.xmpp["main"].rooms[room].joined
    relay.stop()
    assert await asyncio.wait_for(task, 15) == 0


async def test_a_taken_room_nick_gets_an_underscore(server, prosody, start_relay, connect,
                                                    xmpp_user):
    room = fresh_room(prosody, "n")
    squatter = await xmpp_user("irc", room)  # holds the relay's room nick
    relay = await start_relay(relay_config(server.port, prosody, [{"channel": "#n", "room": room}]))
    assert relay.xmpp["main"].rooms[room].current_nick == "irc_"
    alice = await connect("alice")
    await join(alice, "#n")
    await alice.send("PRIVMSG #n :hi")
    assert await squatter.next_message() == ("irc_", "<alice> hi")
    # The squatter's own messages are relayed: only irc_ is the relay now.
    squatter.say("i am not the relay")
    assert (await alice.expect("PRIVMSG", "#n")).params[1] == f"<i{ZWSP}rc> i am not the relay"


async def test_kicked_from_the_room_the_relay_rejoins_it(server, prosody, start_relay, connect,
                                                         xmpp_user, caplog):
    room = fresh_room(prosody, "k")
    olga = await xmpp_user("olga", room)  # the room's owner: she may kick the relay
    relay = await start_relay(relay_config(server.port, prosody, [
        {"channel": "#k", "room": room, "rejoin_delay": 0.1},
    ]))
    alice = await connect("alice")
    await join(alice, "#k")
    state = relay.xmpp["main"].rooms[room]
    assert state.joins == 1
    await olga.client.plugin["xep_0045"].set_role(room, "irc", "none", reason="out")
    await wait_until(lambda: state.joins == 2 and state.joined, "the relay back in the room")
    assert f"main: out of {room} (kicked); rejoining in 0s" in caplog.messages
    await alice.send("PRIVMSG #k :still relayed")
    assert await olga.next_message() == ("irc", "<alice> still relayed")
    olga.say("and back")
    assert (await alice.expect("PRIVMSG", "#k")).params[1] == f"<o{ZWSP}lga> and back"
