"""Connections the server must drop: registration timeout, ping timeout, send queue overflow.

The server checks idle and unregistered connections on a timer (once a
second); these tests make that timer run often, so that they take a fraction
of a second instead of several.
"""

from __future__ import annotations

import socket

import pytest
from conftest import RawClient

import words.irc.server as irc_server

FAST = {"registration_timeout": 0.2, "ping_interval": 0.2, "ping_timeout": 0.2}


@pytest.fixture(autouse=True)
def fast_sweep(monkeypatch):
    monkeypatch.setattr(irc_server, "_SWEEP_SECONDS", 0.05)


async def answer_pings_until(client: RawClient, command: str) -> None:
    """Read (answering the server's PINGs) until a message with `command` arrives."""
    while True:
        msg = await client.read_message()
        assert msg is not None, "connection closed"
        if msg.command == "PING":
            await client.send(f"PONG :{msg.params[0]}")
        if msg.command == command:
            return


# -- registration timeout -------------------------------------------------------------


async def test_unregistered_client_is_closed_after_the_registration_timeout(start_server, connect):
    server = await start_server(limits=FAST)
    client = await connect(port=server.port)
    await client.send("NICK alice")  # never USER
    error = await client.expect("ERROR", timeout=5)
    assert error.params == ["Closing Link: 127.0.0.1 (Registration timed out)"]
    assert await client.closed()


async def test_registered_client_is_not_hit_by_the_registration_timeout(start_server, connect):
    server = await start_server(limits={"registration_timeout": 0.2})
    alice = await connect("alice", port=server.port)
    late = await connect(port=server.port)
    await late.expect("ERROR", timeout=5)  # the deadline has passed
    await alice.until_pong()


# -- ping timeout -----------------------------------------------------------------------


async def test_idle_client_gets_a_ping(start_server, connect):
    server = await start_server(limits=FAST)
    alice = await connect("alice", port=server.port)
    ping = await alice.expect("PING", timeout=5)
    assert ping.source is None
    assert ping.params == ["irc.test"]


async def test_client_that_does_not_answer_the_ping_is_closed(start_server, connect):
    server = await start_server(limits=FAST)
    alice = await connect("alice", port=server.port)
    await alice.expect("PING", timeout=5)
    error = await alice.expect("ERROR", timeout=5)
    assert error.params[0].startswith("Closing Link: 127.0.0.1 (Ping timeout: ")
    assert await alice.closed()


async def test_ping_timeout_is_a_quit_for_the_peers(start_server, connect):
    server = await start_server(limits=FAST)
    alice = await connect("alice", port=server.port)
    bob = await connect("bob", port=server.port)
    for client in (alice, bob):
        await client.send("JOIN #a")
        await client.expect("366", client.nick, "#a")
    await answer_pings_until(bob, "QUIT")
    quit_line = bob.received[-1]
    assert quit_line.source == "alice!~user@127.0.0.1"
    assert quit_line.params[0].startswith("Ping timeout: ")


async def test_answering_the_ping_keeps_the_client(start_server, connect):
    server = await start_server(limits=FAST)
    alice = await connect("alice", port=server.port)
    for _ in range(3):  # each round outlives a ping timeout
        ping = await alice.expect("PING", timeout=5)
        await alice.send(f"PONG :{ping.params[0]}")
    await alice.until_pong()
    assert not [m for m in alice.received if m.command == "ERROR"]


# -- send queue ------------------------------------------------------------------------


def stuck_client(port: int, nick: str, channel: str) -> socket.socket:
    """A client that registers, joins `channel` and then never reads.

    A plain socket (no asyncio stream reading on its behalf) with a small
    receive buffer.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN {channel}\r\n".encode())
    return sock


async def test_client_that_never_reads_is_dropped_when_its_sendq_overflows(start_server, connect):
    server = await start_server(limits={"sendq": 4096})
    flooder = await connect("flooder", port=server.port)
    await flooder.send("JOIN #flood")
    await flooder.expect("366", "flooder", "#flood")
    stuck = stuck_client(server.port, "stuck", "#flood")
    try:
        await flooder.expect("JOIN", "#flood")  # stuck is in
        # The kernel may buffer megabytes for a socket (autotuning); a small
        # fixed send buffer on the server's side makes the send queue fill quickly.
        conn = next(c for c in server.connections if c.nick == "stuck")
        conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        batch = "".join(f"PRIVMSG #flood :{i:04d} {'x' * 400}\r\n" for i in range(100))
        for _ in range(200):
            flooder.writer.write(batch.encode())
            await flooder.until_pong()
            if any(m.command == "QUIT" for m in flooder.received):
                break
        quit_line = next(m for m in flooder.received if m.command == "QUIT")
        assert quit_line.source == "stuck!~stuck@127.0.0.1"
        assert quit_line.params == ["SendQ exceeded"]
        await flooder.until_pong()
        assert len(server.connections) == 1  # dropped, not left waiting for a reader
    finally:
        stuck.close()
