"""Questions about the server over real sockets: VERSION TIME ADMIN INFO LINKS STATS."""

from __future__ import annotations

import re
import time

import pytest
from support import RawClient

from words import __version__
from words.config import Oper
from words.cred import PasswordHasher

ROOT_HASH = PasswordHasher.from_config({"ln": 4}).hash("sesame")


@pytest.fixture
async def server(start_server):
    return await start_server(
        opers=(Oper("root", ROOT_HASH, hosts=("~user@127.0.0.1", "*@10.0.0.0/8")),),
        admin=("Wonderland", "Run by the White Rabbit", "rabbit@example.org"),
        description="A test server",
    )


async def replies_until(client: RawClient, end: str) -> list:
    """Every message up to and including the first `end` numeric."""
    messages = []
    while True:
        msg = await client.read_message()
        assert msg is not None, "connection closed"
        messages.append(msg)
        if msg.command == end:
            return messages


# -- VERSION ---------------------------------------------------------------------------


async def test_version_replies_351_then_isupport(connect, server):
    alice = await connect("alice")
    await alice.send("VERSION")
    version = await alice.expect("351")
    assert version.source == "irc.test"
    assert version.params == ["alice", f"words-{__version__}", "irc.test", "A test server"]
    isupport = []
    for _ in server.isupport:
        msg = await alice.read_message()
        assert msg.command == "005"
        assert msg.params[-1] == "are supported by this server"
        isupport.append(msg.params[1:-1])
    assert isupport == server.isupport
    assert [m for m in await alice.until_pong() if m.command == "005"] == []


async def test_version_of_this_server_by_name(connect):
    alice = await connect("alice")
    await alice.send("VERSION irc.test")
    version = await alice.expect("351")
    assert version.params[2] == "irc.test"


async def test_version_of_another_server_is_402(connect):
    alice = await connect("alice")
    await alice.send("VERSION irc.elsewhere.org")
    reply = await alice.expect("402")
    assert reply.params == ["alice", "irc.elsewhere.org", "No such server"]
    assert not [m for m in await alice.until_pong() if m.command in ("351", "005")]


async def test_version_of_a_user_here_is_this_server(connect):
    alice = await connect("alice")
    await connect("bob")
    await alice.send("VERSION bob")
    version = await alice.expect("351")
    assert version.params[2] == "irc.test"


# -- TIME ------------------------------------------------------------------------------


async def test_time_replies_391(connect):
    alice = await connect("alice")
    before = int(time.time())
    await alice.send("TIME")
    reply = await alice.expect("391")
    after = int(time.time())
    assert reply.params[:2] == ["alice", "irc.test"]
    assert before <= int(reply.params[2]) <= after
    assert reply.params[3] == "0"
    assert re.fullmatch(r"\w+ \w+ \d\d \d{4} -- \d\d:\d\d:\d\d \+00:00", reply.params[4])


async def test_time_of_another_server_is_402(connect):
    alice = await connect("alice")
    await alice.send("TIME irc.elsewhere.org")
    reply = await alice.expect("402")
    assert reply.params == ["alice", "irc.elsewhere.org", "No such server"]


# -- ADMIN -----------------------------------------------------------------------------


async def test_admin_replies_256_to_259_from_the_config(connect):
    alice = await connect("alice")
    await alice.send("ADMIN")
    messages = await replies_until(alice, "259")
    assert [[m.command, *m.params] for m in messages] == [
        ["256", "alice", "irc.test", "Administrative info"],
        ["257", "alice", "Wonderland"],
        ["258", "alice", "Run by the White Rabbit"],
        ["259", "alice", "rabbit@example.org"],
    ]


async def test_admin_without_admin_config_still_answers(start_server):
    server = await start_server()
    alice = await RawClient.connect(server.port)
    try:
        await alice.register("alice")
        await alice.send("ADMIN")
        messages = await replies_until(alice, "259")
        assert [[m.command, *m.params] for m in messages] == [
            ["256", "alice", "irc.test", "Administrative info"],
            ["257", "alice", "words IRC server"],
            ["258", "alice", "TestNet IRC network"],
            ["259", "alice", "No administrative e-mail address is configured"],
        ]
    finally:
        await alice.close()


async def test_admin_of_another_server_is_402(connect):
    alice = await connect("alice")
    await alice.send("ADMIN irc.elsewhere.org")
    reply = await alice.expect("402")
    assert reply.params == ["alice", "irc.elsewhere.org", "No such server"]


# -- INFO ------------------------------------------------------------------------------


async def test_info_replies_371_lines_then_374(connect):
    alice = await connect("alice")
    await alice.send("INFO")
    messages = await replies_until(alice, "374")
    assert messages[-1].params == ["alice", "End of INFO list"]
    info = messages[:-1]
    assert info and all(m.command == "371" and len(m.params) == 2 for m in info)
    assert info[0].params[1].startswith(f"words {__version__}")


async def test_info_of_another_server_is_402(connect):
    alice = await connect("alice")
    await alice.send("INFO irc.elsewhere.org")
    reply = await alice.expect("402")
    assert reply.params == ["alice", "irc.elsewhere.org", "No such server"]


# -- LINKS -----------------------------------------------------------------------------


async def test_links_lists_this_server_only(connect):
    alice = await connect("alice")
    await alice.send("LINKS")
    messages = await replies_until(alice, "365")
    assert [[m.command, *m.params] for m in messages] == [
        ["364", "alice", "irc.test", "irc.test", "0 A test server"],
        ["365", "alice", "*", "End of /LINKS list"],
    ]


async def test_links_with_a_matching_mask(connect):
    alice = await connect("alice")
    await alice.send("LINKS *.test")
    messages = await replies_until(alice, "365")
    assert [m.command for m in messages] == ["364", "365"]
    assert messages[1].params == ["alice", "*.test", "End of /LINKS list"]


async def test_links_with_a_mask_matching_nothing(connect):
    alice = await connect("alice")
    await alice.send("LINKS *.org")
    messages = await replies_until(alice, "365")
    assert [[m.command, *m.params] for m in messages] == [["365", "alice", "*.org", "End of /LINKS list"]]


async def test_links_asking_another_server_is_402(connect):
    alice = await connect("alice")
    await alice.send("LINKS irc.elsewhere.org *")
    reply = await alice.expect("402")
    assert reply.params == ["alice", "irc.elsewhere.org", "No such server"]


# -- STATS -----------------------------------------------------------------------------


async def test_stats_u_tells_the_uptime(connect, server):
    server.created -= 2 * 86400 + 3 * 3600 + 4 * 60 + 5
    alice = await connect("alice")
    await alice.send("STATS u")
    messages = await replies_until(alice, "219")
    assert [m.command for m in messages] == ["242", "219"]
    assert re.fullmatch(r"Server Up 2 days 3:04:0[5-9]", messages[0].params[1])
    assert messages[1].params == ["alice", "u", "End of /STATS report"]


async def test_stats_o_lists_oper_names_and_hosts_to_opers(connect):
    alice = await connect("alice")
    await alice.send("OPER root sesame")
    await alice.expect("381")
    await alice.send("STATS o")
    messages = await replies_until(alice, "219")
    assert [[m.command, *m.params] for m in messages] == [
        ["243", "alice", "O", "~user@127.0.0.1", "*", "root"],
        ["243", "alice", "O", "*@10.0.0.0/8", "*", "root"],
        ["219", "alice", "o", "End of /STATS report"],
    ]


async def test_stats_o_is_481_for_non_opers(connect):
    alice = await connect("alice")
    await alice.send("STATS o")
    reply = await alice.expect("481")
    assert reply.params == ["alice", "Permission Denied- You're not an IRC operator"]
    assert not [m for m in await alice.until_pong() if m.command in ("243", "219")]


async def test_stats_m_counts_commands(connect):
    alice = await connect("alice")
    await alice.send("PING a")
    await alice.send("PING b")
    await alice.send("STATS m")
    messages = await replies_until(alice, "219")
    counts = {m.params[1]: m.params[2] for m in messages if m.command == "212"}
    # NICK and USER registered alice; this STATS is counted before it answers.
    assert counts == {"NICK": "1", "USER": "1", "PING": "2", "STATS": "1"}
    assert messages[-1].params == ["alice", "m", "End of /STATS report"]


async def test_stats_m_does_not_count_unknown_commands(connect):
    alice = await connect("alice")
    await alice.send("FROBNICATE")
    await alice.expect("421")
    await alice.send("STATS m")
    messages = await replies_until(alice, "219")
    assert "FROBNICATE" not in {m.params[1] for m in messages if m.command == "212"}


async def test_stats_with_an_unknown_letter_is_just_219(connect):
    alice = await connect("alice")
    await alice.send("STATS z")
    messages = await replies_until(alice, "219")
    assert [[m.command, *m.params] for m in messages] == [["219", "alice", "z", "End of /STATS report"]]


async def test_stats_needs_a_query(connect):
    alice = await connect("alice")
    await alice.send("STATS")
    reply = await alice.expect("461")
    assert reply.params == ["alice", "STATS", "Not enough parameters"]


async def test_stats_of_another_server_is_402(connect):
    alice = await connect("alice")
    await alice.send("STATS u irc.elsewhere.org")
    reply = await alice.expect("402")
    assert reply.params == ["alice", "irc.elsewhere.org", "No such server"]
    assert not [m for m in await alice.until_pong() if m.command in ("242", "219")]


async def test_stats_of_this_server_by_name(connect):
    alice = await connect("alice")
    await alice.send("STATS u irc.test")
    messages = await replies_until(alice, "219")
    assert [m.command for m in messages] == ["242", "219"]
