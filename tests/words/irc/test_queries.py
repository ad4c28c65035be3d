"""Queries over real sockets: WHO WHOIS LUSERS MOTD."""

from __future__ import annotations

import socket
import time

import pytest
from conftest import RawClient

from words.config import Listen


async def join(client: RawClient, *channels: str) -> None:
    for channel in channels:
        await client.send(f"JOIN {channel}")
        await client.expect("366", client.nick, channel)


def lines(messages) -> list[str]:
    return [m.to_line() for m in messages]


async def reply_to(client: RawClient, line: str) -> list[str]:
    """Everything the server answers to `line` (read up to a PONG)."""
    await client.until_pong()
    await client.send(line)
    return lines(await client.until_pong())


# -- WHO -------------------------------------------------------------------------------


async def test_who_of_a_channel_lists_members_with_flags(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a")
    await join(bob, "#a")
    assert await reply_to(bob, "WHO #a") == [
        ":irc.test 352 bob #a ~user 127.0.0.1 irc.test alice H@ :0 Real alice",
        ":irc.test 352 bob #a ~user 127.0.0.1 irc.test bob H :0 Real bob",
        ":irc.test 315 bob #a :End of WHO list",
    ]


async def test_who_of_an_unknown_channel_gets_only_315(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "WHO #nowhere") == [
        ":irc.test 315 alice #nowhere :End of WHO list",
    ]


async def test_who_with_a_mask_matches_nicks(connect):
    alice = await connect("alice")
    await connect("alex")
    await connect("bob")
    replies = await reply_to(alice, "WHO A*")
    assert sorted(replies[:-1]) == [
        ":irc.test 352 alice * ~user 127.0.0.1 irc.test alex H :0 Real alex",
        ":irc.test 352 alice * ~user 127.0.0.1 irc.test alice H :0 Real alice",
    ]
    assert replies[-1] == ":irc.test 315 alice A* :End of WHO list"


async def test_who_of_a_nick_names_one_of_its_channels(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(bob, "#b")
    assert await reply_to(alice, "WHO bob") == [
        ":irc.test 352 alice #b ~user 127.0.0.1 irc.test bob H :0 Real bob",
        ":irc.test 315 alice bob :End of WHO list",
    ]


async def test_who_for_operators_only_finds_none(connect):
    alice = await connect("alice")
    await join(alice, "#a")
    assert await reply_to(alice, "WHO #a o") == [":irc.test 315 alice #a :End of WHO list"]


async def test_who_without_a_mask_lists_everyone(connect):
    alice = await connect("alice")
    await connect("bob")
    replies = await reply_to(alice, "WHO")
    assert len(replies) == 3
    assert replies[-1] == ":irc.test 315 alice * :End of WHO list"


# -- WHOIS -----------------------------------------------------------------------------


async def test_whois_of_an_anonymous_user(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(bob, "#b")
    await alice.send("WHOIS BOB")
    replies = [await alice.read_message() for _ in range(5)]
    assert [m.command for m in replies] == ["311", "319", "312", "317", "318"]
    assert replies[0].params == ["alice", "bob", "~user", "127.0.0.1", "*", "Real bob"]
    assert replies[1].params == ["alice", "bob", "@#b"]
    assert replies[2].params == ["alice", "bob", "irc.test", "words IRC server"]
    idle, signon = int(replies[3].params[2]), int(replies[3].params[3])
    assert 0 <= idle < 10
    assert abs(signon - time.time()) < 10
    assert replies[3].params[-1] == "seconds idle, signon time"
    assert replies[4].params == ["alice", "bob", "End of /WHOIS list"]


async def test_whois_of_a_user_on_no_channel_has_no_319(connect):
    alice = await connect("alice")
    await connect("bob")
    commands = [m.split()[1] for m in await reply_to(alice, "WHOIS bob")]
    assert commands == ["311", "312", "317", "318"]


async def test_whois_of_a_logged_in_user_shows_the_account(start_server, connect):
    server = await start_server(auth=("memory:alice:secret",))
    alice = await connect("alice", password="secret", port=server.port)
    replies = await reply_to(alice, "WHOIS alice")
    assert [m.split()[1] for m in replies] == ["311", "312", "330", "317", "318"]
    assert replies[2] == ":irc.test 330 alice alice alice :is logged in as"


async def test_whois_with_a_server_parameter(connect):
    alice = await connect("alice")
    await connect("bob")
    await alice.send("WHOIS irc.test bob")
    reply = await alice.expect("311")
    assert reply.params[1] == "bob"


async def test_whois_of_an_unknown_nick_gets_401_and_318(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "WHOIS nobody") == [
        ":irc.test 401 alice nobody :No such nick/channel",
        ":irc.test 318 alice nobody :End of /WHOIS list",
    ]


async def test_whois_without_a_nick_gets_461(connect):
    alice = await connect("alice")
    await alice.send("WHOIS")
    reply = await alice.expect("461")
    assert reply.params == ["alice", "WHOIS", "Not enough parameters"]


# -- LUSERS ----------------------------------------------------------------------------


async def test_lusers_counts_users_and_channels(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(bob, "#a", "#b")
    assert await reply_to(alice, "LUSERS") == [
        ":irc.test 251 alice :There are 2 users and 0 invisible on 1 servers",
        ":irc.test 254 alice 2 :channels formed",
        ":irc.test 255 alice :I have 2 clients and 0 servers",
        ":irc.test 265 alice 2 2 :Current local users 2, max 2",
        ":irc.test 266 alice 2 2 :Current global users 2, max 2",
    ]


async def test_lusers_counts_unknown_connections(connect):
    alice = await connect("alice")
    unregistered = await connect()
    await unregistered.until_pong()  # the server has accepted it
    replies = await reply_to(alice, "LUSERS")
    assert replies[:2] == [
        ":irc.test 251 alice :There are 1 users and 0 invisible on 1 servers",
        ":irc.test 253 alice 1 :unknown connection(s)",
    ]


# -- MOTD ------------------------------------------------------------------------------


async def test_motd_command_sends_the_motd(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "MOTD") == [
        ":irc.test 375 alice :- irc.test Message of the day - ",
        ":irc.test 372 alice :- Welcome to words, an IRC server on asyncio. Be excellent to each other.",
        ":irc.test 376 alice :End of /MOTD command.",
    ]


async def test_motd_of_several_lines_gets_one_372_each(start_server, connect):
    server = await start_server(motd="first line\nsecond line\n")
    alice = await connect("alice", port=server.port)
    assert await reply_to(alice, "MOTD") == [
        ":irc.test 375 alice :- irc.test Message of the day - ",
        ":irc.test 372 alice :- first line",
        ":irc.test 372 alice :- second line",
        ":irc.test 376 alice :End of /MOTD command.",
    ]


async def test_empty_motd_gets_422_in_the_welcome(start_server, connect):
    server = await start_server(motd="")
    client = await connect(port=server.port)
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice")
    reply = await client.expect("422")
    assert reply.params == ["alice", "MOTD File is missing"]
    assert not [m for m in client.received if m.command in ("375", "372", "376")]


async def test_empty_motd_gets_422_on_request(start_server, connect):
    server = await start_server(motd="  \n")
    client = await connect(port=server.port)
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice")
    await client.expect("422")
    assert await reply_to(client, "MOTD") == [":irc.test 422 alice :MOTD File is missing"]


# -- IPv6 hosts ------------------------------------------------------------------------


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
async def test_ipv6_host_starting_with_a_colon_gets_a_leading_zero(start_server):
    server = await start_server(listen=(Listen("::1", 0),))
    alice = await RawClient.connect(server.port, host="::1")
    try:
        welcome = await alice.register("alice")
        assert welcome.params[-1].endswith(" alice!~user@0::1")
        await alice.send("WHOIS alice")
        whois = await alice.expect("311")
        assert whois.params == ["alice", "alice", "~user", "0::1", "*", "Real alice"]
        await alice.send("WHO alice")
        who = await alice.expect("352")
        assert who.params[2:4] == ["~user", "0::1"]
    finally:
        await alice.close()
