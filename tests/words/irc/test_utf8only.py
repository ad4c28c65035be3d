"""UTF8ONLY over real sockets: when configured, lines that are not UTF-8 are refused, never relayed."""

from __future__ import annotations

import pytest
from support import RawClient, join

from words.config import load_config

REFUSED = "Message rejected, your IRC software MUST use UTF-8 encoding on this network"
LATIN1 = "caf\xe9".encode("latin-1")  # "café" in Latin-1: not UTF-8


@pytest.fixture
async def server(start_server):
    return await start_server(utf8_only=True)


async def open_client(server, nick: str, caps: str = "") -> RawClient:
    client = await RawClient.connect(server.port)
    client.nick = nick
    if caps:
        await client.send(f"CAP REQ :{caps}")
        await client.expect("CAP", "*", "ACK")
    await client.send(f"NICK {nick}")
    await client.send(f"USER user 0 * :Real {nick}")
    if caps:
        await client.send("CAP END")
    await client.expect("376", nick)
    return client


@pytest.fixture
async def client(server):
    clients: list[RawClient] = []

    async def open_(nick: str, caps: str = "") -> RawClient:
        c = await open_client(server, nick, caps)
        clients.append(c)
        return c

    yield open_
    for c in clients:
        await c.close()


async def answer(client: RawClient, raw: bytes) -> list[str]:
    await client.until_pong()
    await client.send(raw)
    return [m.to_line() for m in await client.until_pong()]


def tokens(client: RawClient) -> list[str]:
    return [t for m in client.received if m.command == "005" for t in m.params[1:-1]]


async def test_utf8only_is_in_isupport_when_configured(client):
    alice = await client("alice")
    assert "UTF8ONLY" in tokens(alice)


async def test_no_utf8only_by_default(start_server):
    server = await start_server()
    alice = await open_client(server, "alice")
    try:
        assert "UTF8ONLY" not in tokens(alice)
        bob = await open_client(server, "bob")
        try:
            # Off: Latin-1 is read as Latin-1 and relayed (as UTF-8), as before.
            await alice.send(b"PRIVMSG bob :" + LATIN1)
            assert (await bob.expect("PRIVMSG")).params == ["bob", "caf\xe9"]
        finally:
            await bob.close()
    finally:
        await alice.close()


async def test_a_standard_replies_client_gets_fail_and_nothing_is_relayed(client):
    alice = await client("alice", "standard-replies")
    bob = await client("bob")
    await join(alice, "#a")
    await join(bob, "#a")
    await bob.until_pong()
    assert await answer(alice, b"PRIVMSG #a :" + LATIN1) == [
        f":irc.test FAIL PRIVMSG INVALID_UTF8 :{REFUSED}",
    ]
    assert await answer(alice, b"NOTICE bob :" + LATIN1) == [
        f":irc.test FAIL NOTICE INVALID_UTF8 :{REFUSED}",
    ]
    assert await answer(alice, b"TOPIC #a :" + LATIN1) == [
        f":irc.test FAIL TOPIC INVALID_UTF8 :{REFUSED}",
    ]
    assert [m.to_line() for m in await bob.until_pong()] == []
    # UTF-8 passes.
    await alice.send("PRIVMSG #a :café")
    assert (await bob.expect("PRIVMSG")).params == ["#a", "café"]


async def test_other_clients_get_a_notice(client):
    alice = await client("alice")
    bob = await client("bob")
    assert await answer(alice, b"PRIVMSG bob :" + LATIN1) == [
        f":irc.test NOTICE alice :*** PRIVMSG: {REFUSED}",
    ]
    assert [m.to_line() for m in await bob.until_pong()] == []


async def test_an_unparsable_line_is_refused_with_star(client):
    alice = await client("alice", "standard-replies")
    assert await answer(alice, b"\xff\xfe") == [f":irc.test FAIL * INVALID_UTF8 :{REFUSED}"]
    bob = await client("bob")
    assert await answer(bob, b"PRIV\xe9MSG x :y") == [f":irc.test NOTICE bob :*** {REFUSED}"]


async def test_the_refusal_is_labelled(client):
    alice = await client("alice", "standard-replies labeled-response batch")
    assert await answer(alice, b"@label=x1 PRIVMSG alice :" + LATIN1) == [
        f"@label=x1 :irc.test FAIL PRIVMSG INVALID_UTF8 :{REFUSED}",
    ]


async def test_a_realname_that_is_not_utf8_is_refused_at_registration(server):
    client = await RawClient.connect(server.port)
    try:
        await client.send("NICK alice")
        await client.send(b"USER u 0 * :" + LATIN1)
        notice = await client.expect("NOTICE")
        assert notice.to_line() == f":irc.test NOTICE alice :*** USER: {REFUSED}"
        assert not [m for m in await client.until_pong() if m.command == "001"]
        await client.send("USER u 0 * :Café au lait")
        await client.expect("001")
    finally:
        await client.close()


async def test_quit_with_a_latin1_reason_still_quits_without_it(client):
    alice = await client("alice")
    bob = await client("bob")
    await join(alice, "#a")
    await join(bob, "#a")
    await alice.send(b"QUIT :" + LATIN1)
    assert await alice.closed()
    quit_ = await bob.expect("QUIT")
    assert quit_.source.startswith("alice!") and "caf" not in quit_.params[-1]


def test_utf8_only_is_a_config_switch(tmp_path):
    path = tmp_path / "words.yaml"
    path.write_text("utf8_only: true\n")
    assert load_config(path).utf8_only is True
    assert load_config(None).utf8_only is False
    path.write_text("utf8_only: yes please\n")
    with pytest.raises(ValueError, match="utf8_only: must be true or false"):
        load_config(path)
