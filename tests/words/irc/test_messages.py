"""PRIVMSG and NOTICE over real sockets, to channels and users."""

from __future__ import annotations

import pytest
from conftest import RawClient


async def join(client: RawClient, *channels: str) -> None:
    for channel in channels:
        await client.send(f"JOIN {channel}")
        await client.expect("366", client.nick, channel)


async def settled(*clients: RawClient) -> None:
    """Read everything sent so far, so that the next until_pong shows only what follows."""
    for client in clients:
        await client.until_pong()


def lines(messages) -> list[str]:
    return [m.to_line() for m in messages]


@pytest.fixture
async def channel_pair(connect):
    """alice and bob, both on #a."""
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a")
    await join(bob, "#a")
    await settled(alice, bob)
    return alice, bob


# -- delivery ----------------------------------------------------------------------------


async def test_channel_message_reaches_the_others_but_not_the_sender(channel_pair, connect):
    alice, bob = channel_pair
    await alice.send("PRIVMSG #a :hello, world")
    assert await alice.until_pong() == []
    assert lines(await bob.until_pong()) == [":alice!~user@127.0.0.1 PRIVMSG #a :hello, world"]


async def test_private_message_reaches_its_target(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await settled(bob)
    await alice.send("PRIVMSG BOB :psst")
    await alice.until_pong()
    assert lines(await bob.until_pong()) == [":alice!~user@127.0.0.1 PRIVMSG bob psst"]


async def test_message_to_several_targets_reaches_each(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    carol = await connect("carol")
    await join(carol, "#a")
    await join(alice, "#a")
    await settled(bob, carol)
    await alice.send("PRIVMSG #a,bob :to both")
    await alice.until_pong()
    assert lines(await bob.until_pong()) == [":alice!~user@127.0.0.1 PRIVMSG bob :to both"]
    assert lines(await carol.until_pong()) == [":alice!~user@127.0.0.1 PRIVMSG #a :to both"]


async def test_notice_is_relayed_as_a_notice(channel_pair):
    alice, bob = channel_pair
    await alice.send("NOTICE #a :heads up")
    await alice.until_pong()
    assert lines(await bob.until_pong()) == [":alice!~user@127.0.0.1 NOTICE #a :heads up"]


async def test_ctcp_action_to_a_channel_is_relayed_intact(channel_pair):
    alice, bob = channel_pair
    await alice.send("PRIVMSG #a :\x01ACTION waves at everyone\x01")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["#a", "\x01ACTION waves at everyone\x01"]


async def test_ctcp_action_to_a_user_is_relayed_intact(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await alice.send("PRIVMSG bob :\x01ACTION waves\x01")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["bob", "\x01ACTION waves\x01"]


async def test_ctcp_action_without_the_closing_marker_is_relayed_closed(channel_pair):
    alice, bob = channel_pair
    await alice.send("PRIVMSG #a :\x01ACTION waves")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["#a", "\x01ACTION waves\x01"]


async def test_empty_ctcp_action_is_relayed_intact(channel_pair):
    alice, bob = channel_pair
    await alice.send("PRIVMSG #a :\x01ACTION\x01")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["#a", "\x01ACTION\x01"]


async def test_other_ctcp_is_relayed_as_is(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await alice.send("PRIVMSG bob :\x01VERSION\x01")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["bob", "\x01VERSION\x01"]


async def test_utf8_text_is_relayed_intact(channel_pair):
    alice, bob = channel_pair
    await alice.send("PRIVMSG #a :héllo wörld ☕")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["#a", "héllo wörld ☕"]


# -- PRIVMSG errors ------------------------------------------------------------------------


async def test_privmsg_without_a_target_gets_411(connect):
    alice = await connect("alice")
    await alice.send("PRIVMSG")
    reply = await alice.expect("411")
    assert reply.params == ["alice", "No recipient given (PRIVMSG)"]


async def test_privmsg_to_only_empty_targets_gets_411(connect):
    alice = await connect("alice")
    await alice.send("PRIVMSG , :hi")
    reply = await alice.expect("411")
    assert reply.params == ["alice", "No recipient given (PRIVMSG)"]


async def test_privmsg_without_text_gets_412(connect):
    alice = await connect("alice")
    await connect("bob")
    await alice.send("PRIVMSG bob")
    reply = await alice.expect("412")
    assert reply.params == ["alice", "No text to send"]


async def test_privmsg_with_empty_text_gets_412(connect):
    alice = await connect("alice")
    await connect("bob")
    await alice.send("PRIVMSG bob :")
    reply = await alice.expect("412")
    assert reply.params == ["alice", "No text to send"]


async def test_privmsg_to_an_unknown_nick_gets_401(connect):
    alice = await connect("alice")
    await alice.send("PRIVMSG nobody :hello?")
    reply = await alice.expect("401")
    assert reply.params == ["alice", "nobody", "No such nick/channel"]


async def test_privmsg_to_an_unknown_channel_gets_403(connect):
    alice = await connect("alice")
    await alice.send("PRIVMSG #nowhere :hello?")
    reply = await alice.expect("403")
    assert reply.params == ["alice", "#nowhere", "No such channel"]


async def test_privmsg_to_a_channel_one_is_not_on_gets_404(channel_pair, connect):
    _alice, bob = channel_pair
    carol = await connect("carol")
    await carol.send("PRIVMSG #A :let me in")
    reply = await carol.expect("404")
    assert reply.params == ["carol", "#a", "Cannot send to channel (no external messages)"]
    assert await bob.until_pong() == []


async def test_privmsg_to_more_than_max_targets_gets_407_and_reaches_nobody(start_server, connect):
    server = await start_server(limits={"max_targets": 2})
    alice = await connect("alice", port=server.port)
    bob = await connect("bob", port=server.port)
    await settled(bob)
    await alice.send("PRIVMSG bob,bob,bob :spam")
    reply = await alice.expect("407")
    assert reply.params == ["alice", "bob,bob,bob", "Too many targets"]
    assert await bob.until_pong() == []


async def test_privmsg_to_max_targets_is_allowed(start_server, connect):
    server = await start_server(limits={"max_targets": 2})
    alice = await connect("alice", port=server.port)
    bob = await connect("bob", port=server.port)
    carol = await connect("carol", port=server.port)
    await alice.send("PRIVMSG bob,carol :hi")
    await bob.expect("PRIVMSG", "bob", "hi")
    await carol.expect("PRIVMSG", "carol", "hi")


async def test_a_bad_target_does_not_stop_the_others(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await alice.send("PRIVMSG nobody,bob :hi")
    reply = await alice.expect("401")
    assert reply.params == ["alice", "nobody", "No such nick/channel"]
    await bob.expect("PRIVMSG", "bob", "hi")


async def test_an_empty_target_in_the_list_does_not_stop_the_others(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await settled(bob)
    await alice.send("PRIVMSG ,bob, :hi")
    await alice.until_pong()
    assert lines(await bob.until_pong()) == [":alice!~user@127.0.0.1 PRIVMSG bob hi"]


# -- NOTICE never gets an error back ---------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "NOTICE",
        "NOTICE bob",
        "NOTICE bob :",
        "NOTICE nobody :hello?",
        "NOTICE #nowhere :hello?",
        "NOTICE #a :let me in",
        "NOTICE bob,bob,bob,bob,bob :too many",
    ],
)
async def test_notice_never_gets_an_error_reply(channel_pair, connect, line):
    carol = await connect("carol")
    await settled(carol)
    await carol.send(line)
    assert await carol.until_pong() == []
