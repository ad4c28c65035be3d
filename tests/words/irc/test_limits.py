"""Limits that keep one client from hurting the server: input pacing, per-IP and total
connection caps, and the send queue of a client that stops reading."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from support import RawClient

from words.config import Oper
from words.cred import PasswordHasher
from words.irc.connection import IRCConnection

PACED = {"flood_burst": 3, "flood_rate": 20.0, "flood_max_queued": 5}


async def open_registered(server, nick: str) -> RawClient:
    client = await RawClient.connect(server.port)
    await client.register(nick)
    return client


@pytest.fixture
async def clients():
    """A list the test appends its clients to; all are closed at teardown."""
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        await client.close()


# -- input pacing ----------------------------------------------------------------------


async def test_a_small_burst_is_served_and_the_excess_is_delayed(start_server, clients):
    server = await start_server(limits=PACED)
    alice = await open_registered(server, "alice")
    clients.append(alice)
    started = time.monotonic()
    await alice.send(b"PING 1\r\nPING 2\r\nPING 3\r\nPING 4")
    pongs = [await alice.expect("PONG") for _ in range(4)]
    elapsed = time.monotonic() - started
    assert [p.params for p in pongs] == [["irc.test", str(i)] for i in (1, 2, 3, 4)]
    # At most flood_burst lines at once, then flood_rate a second: the 4th waited
    # at least (4 - 3) / 20 seconds.
    assert elapsed >= (4 - PACED["flood_burst"]) / PACED["flood_rate"] * 0.95


async def test_a_flood_is_disconnected_with_excess_flood(start_server, clients):
    server = await start_server(limits=PACED)
    alice = await open_registered(server, "alice")
    clients.append(alice)
    await alice.send(b"\r\n".join(b"PING %d" % i for i in range(20)))
    error = await alice.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Excess Flood)"]
    assert await alice.closed()


async def test_the_flooders_channels_see_it_quit_with_excess_flood(start_server, clients):
    server = await start_server(limits=PACED)
    alice, bob = await open_registered(server, "alice"), await open_registered(server, "bob")
    clients += [alice, bob]
    for client in (alice, bob):
        await client.send("JOIN #a")
        await client.expect("366", client.nick, "#a")
    await alice.send(b"\r\n".join(b"PRIVMSG #a :spam %d" % i for i in range(20)))
    quit_ = await bob.expect("QUIT")
    assert quit_.to_line() == ":alice!~user@127.0.0.1 QUIT :Excess Flood"


async def test_opers_are_not_paced(start_server, clients):
    hasher = PasswordHasher.from_config({"ln": 4})
    server = await start_server(limits=PACED, opers=(Oper("root", hasher.hash("sesame")),))
    alice = await open_registered(server, "alice")
    clients.append(alice)
    await alice.send("OPER root sesame")
    await alice.expect("381")
    await alice.send(b"\r\n".join(b"PING %d" % i for i in range(20)))
    pongs = [await alice.expect("PONG") for _ in range(20)]
    assert [p.params[1] for p in pongs] == [str(i) for i in range(20)]
    assert not [m for m in await alice.until_pong() if m.command == "ERROR"]


# -- connections per IP and in all ------------------------------------------------------


async def test_per_ip_limit_refuses_the_connection_over_it(start_server, clients):
    server = await start_server(limits={"max_per_ip": 2, "per_ip_exempt": []})
    clients += [await open_registered(server, "alice"), await open_registered(server, "bob")]
    third = await RawClient.connect(server.port)
    clients.append(third)
    error = await third.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Too many connections from your host)"]
    assert await third.closed()


async def test_per_ip_limit_accepts_again_once_one_leaves(start_server, clients):
    server = await start_server(limits={"max_per_ip": 2, "per_ip_exempt": []})
    alice, bob = await open_registered(server, "alice"), await open_registered(server, "bob")
    clients += [alice, bob]
    refused = await RawClient.connect(server.port)
    clients.append(refused)
    assert await refused.closed()
    await alice.send("QUIT :making room")
    assert await alice.closed()
    carol = await open_registered(server, "carol")
    clients.append(carol)
    assert server.per_ip["127.0.0.1"] == 2


async def test_exempt_addresses_are_not_limited(start_server, clients):
    server = await start_server(limits={"max_per_ip": 1})  # 127.0.0.1 is exempt by default
    for nick in ("alice", "bob", "carol"):
        clients.append(await open_registered(server, nick))
    assert "127.0.0.1" not in server.per_ip


async def test_max_clients_refuses_the_connection_over_it(start_server, clients):
    server = await start_server(limits={"max_clients": 2})
    clients += [await open_registered(server, "alice"), await open_registered(server, "bob")]
    third = await RawClient.connect(server.port)
    clients.append(third)
    error = await third.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Too many clients on this server; try again later)"]
    assert await third.closed()


async def test_max_clients_counts_unregistered_connections(start_server, clients):
    server = await start_server(limits={"max_clients": 1})
    idle = await RawClient.connect(server.port)
    clients.append(idle)
    await idle.send("PING early")
    await idle.expect("PONG")
    second = await RawClient.connect(server.port)
    clients.append(second)
    error = await second.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Too many clients on this server; try again later)"]


# -- SendQ: a client that stops reading -------------------------------------------------

SENDQ = 64 * 1024


async def test_a_client_that_stops_reading_is_dropped_with_sendq_exceeded(
    start_server, clients, monkeypatch
):
    server = await start_server(limits={"sendq": SENDQ})
    # Record what bob's connection holds in memory at each flush: what the
    # transport still buffers, and that plus what this flush adds to it.
    resting = peak = largest_flush = 0
    original_flush = IRCConnection.flush

    def flush(conn: IRCConnection) -> None:
        nonlocal resting, peak, largest_flush
        if conn.nick == "bob" and conn.transport is not None:
            pending = sum(map(len, conn.out or ()))
            held = conn.transport.get_write_buffer_size()
            resting, peak = max(resting, held), max(peak, held + pending)
            largest_flush = max(largest_flush, pending)
        original_flush(conn)

    monkeypatch.setattr(IRCConnection, "flush", flush)

    # bob reads nothing once registered, through a small receive window, so
    # the kernel holds little and the rest would pile up in the server.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    bob = RawClient(reader, writer)
    clients.append(bob)
    await bob.register("bob")
    alice, carol = await open_registered(server, "alice"), await open_registered(server, "carol")
    clients += [alice, carol]
    for client in (bob, alice, carol):
        await client.send("JOIN #flood")
        await client.expect("366", client.nick, "#flood")
    await bob.until_pong()
    await alice.until_pong()
    bob.writer.transport.pause_reading()  # from here on bob reads nothing at all

    # alice floods in batches; carol reads each batch (so the server has handled
    # it) until she sees bob quit.
    text = b"x" * 400
    sent = 0
    quit_ = None
    while quit_ is None:
        assert sent < 50_000, "the server never dropped the client that does not read"
        await alice.send(b"\r\n".join(b"PRIVMSG #flood :%d %s" % (sent + i, text) for i in range(100)))
        sent += 100
        while quit_ is None:
            msg = await carol.read_message()
            assert msg is not None, "carol was disconnected"
            if msg.command == "QUIT":
                quit_ = msg
            elif msg.command == "PRIVMSG" and msg.params[1].startswith(f"{sent - 1} "):
                break

    assert quit_.to_line() == ":bob!~user@127.0.0.1 QUIT :SendQ exceeded"
    # Memory stayed bounded: at rest never more than the SendQ; at worst the SendQ
    # plus what one flush added (the flush that went over it and dropped bob).
    assert resting <= SENDQ < peak <= SENDQ + largest_flush
    assert largest_flush < 256 * 1024
    assert not [c for c in server.connections if c.nick == "bob"]

    # Everyone else keeps receiving: alice saw bob go too, and alice and carol
    # still hear each other.
    alice_quit = await alice.expect("QUIT", timeout=10)
    assert alice_quit.params == ["SendQ exceeded"]
    await carol.send("PRIVMSG #flood :carol here")
    heard = await alice.expect("PRIVMSG", "#flood", "carol here")
    assert heard.source.startswith("carol!")
    await alice.send("PRIVMSG #flood :alice here")
    await carol.expect("PRIVMSG", "#flood", "alice here", timeout=10)
    # Every flood line reached carol, in order.
    flood = [int(m.params[1].split()[0]) for m in carol.received
             if m.command == "PRIVMSG" and m.params[1][0].isdigit()]
    assert flood == list(range(sent))
