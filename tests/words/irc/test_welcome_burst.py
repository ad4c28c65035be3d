"""The welcome burst's pre-rendered lines (002-005, LUSERS, MOTD): exact, and new after a REHASH."""

from __future__ import annotations

import textwrap
from dataclasses import replace

from conftest import RawClient

from words import __version__


async def burst(port: int, nick: str) -> tuple[RawClient, list[tuple[str | None, str, list[str]]]]:
    """Register `nick`; (client, [(source, command, params)] from 001 to 376)."""
    client = await RawClient.connect(port)
    await client.send(f"NICK {nick}")
    await client.send(f"USER {nick} 0 * :{nick}")
    await client.expect("376")
    return client, [(m.source, m.command, m.params) for m in client.received]


async def test_the_burst_lines_are_exact(server, connect):
    await connect("early")  # LUSERS then counts another user
    client, lines = await burst(server.port, "alice")
    try:
        assert all(source == "irc.test" for source, _command, _params in lines)
        by_command = {command: params for _source, command, params in lines}
        assert by_command["002"] == ["alice", f"Your host is irc.test, running version words-{__version__}"]
        assert by_command["003"][0] == "alice"
        assert by_command["003"][1].startswith("This server was created ")
        assert by_command["004"] == ["alice", "irc.test", f"words-{__version__}", "Biow",
                                     "Ibeiklmnoprstv", "Ibeklov"]
        isupport = [params for _source, command, params in lines if command == "005"]
        assert [p[0] for p in isupport] == ["alice", "alice"]
        assert isupport[0][-1] == "are supported by this server"
        assert by_command["251"] == ["alice", "There are 2 users and 0 invisible on 1 servers"]
        assert by_command["254"] == ["alice", "0", "channels formed"]
        assert by_command["255"] == ["alice", "I have 2 clients and 0 servers"]
        assert by_command["265"] == ["alice", "2", "2", "Current local users 2, max 2"]
        assert by_command["266"] == ["alice", "2", "2", "Current global users 2, max 2"]
        assert by_command["375"] == ["alice", "- irc.test Message of the day - "]
        motd = [params for _source, command, params in lines if command == "372"]
        assert motd == [["alice", f"- {line}"] for line in server.config.motd.splitlines()]
        assert by_command["376"] == ["alice", "End of /MOTD command."]
    finally:
        await client.close()


async def test_a_rehash_changes_the_motd_and_isupport_of_the_next_burst(start_server, tmp_path):
    path = tmp_path / "words.yaml"
    config = """
        server: {{name: irc.test, network: TestNet, motd: "{motd}"}}
        hashing: {{ln: 4}}
        limits: {{flood_burst: 100000, flood_rate: 100000, nicklen: {nicklen}}}
    """
    path.write_text(textwrap.dedent(config.format(motd="before", nicklen=30)))
    server = await start_server(motd="before", source=str(path))
    first, lines = await burst(server.port, "alice")
    try:
        assert [p for _s, c, p in lines if c == "372"] == [["alice", "- before"]]
        assert "NICKLEN=30" in [t for _s, c, p in lines if c == "005" for t in p[1:-1]]
        path.write_text(textwrap.dedent(config.format(motd="after\\nsecond line", nicklen=12)))
        assert server.rehash() is None
        second, lines = await burst(server.port, "bob")
        assert [p for _s, c, p in lines if c == "372"] == [["bob", "- after"], ["bob", "- second line"]]
        assert "NICKLEN=12" in [t for _s, c, p in lines if c == "005" for t in p[1:-1]]
        await second.close()
        await first.send("MOTD")
        assert (await first.expect("372")).params == ["alice", "- after"]
    finally:
        await first.close()


async def test_a_config_replaced_in_code_is_followed_too(server):
    first, _lines = await burst(server.port, "alice")
    server.config = replace(server.config, motd="replaced")
    client, lines = await burst(server.port, "bob")
    try:
        assert [p for _s, c, p in lines if c == "372"] == [["bob", "- replaced"]]
    finally:
        await client.close()
        await first.close()


async def test_a_motd_holding_the_nick_placeholder_is_sent_line_by_line(start_server):
    # \x01 marks where the nick goes in the pre-rendered lines: a MOTD holding it is
    # rendered per client instead, intact.
    server = await start_server(motd="a \x01ACTION\x01 b")
    client, lines = await burst(server.port, "alice")
    try:
        assert [p for _s, c, p in lines if c == "372"] == [["alice", "- a \x01ACTION\x01 b"]]
        assert [c for _s, c, _p in lines][-3:] == ["375", "372", "376"]
    finally:
        await client.close()


async def test_an_empty_motd_is_422(start_server):
    server = await start_server(motd="  ")
    client = await RawClient.connect(server.port)
    try:
        await client.send("NICK alice")
        await client.send("USER alice 0 * :alice")
        reply = await client.expect("422")
        assert reply.params == ["alice", "MOTD File is missing"]
    finally:
        await client.close()
