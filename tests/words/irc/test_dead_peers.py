"""Peers that stop reading or vanish: dropped by the ping timeout, their socket freed, nobody stalled.

On loopback a peer cannot vanish without a FIN for real (the kernel still
acknowledges what it cannot deliver to the application); a peer that stops
reading and writing altogether is what the server sees of one, so that is
what these tests do. The sweep runs every 50 ms here and the ping settings
are short, so each test takes about a second.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from support import RawClient

import words.irc.connection as irc_connection
import words.irc.server as irc_server

PINGS = {"ping_interval": 0.3, "ping_timeout": 0.5, "registration_timeout": 30.0}


@pytest.fixture(autouse=True)
def fast_timers(monkeypatch):
    monkeypatch.setattr(irc_server, "_SWEEP_SECONDS", 0.05)
    monkeypatch.setattr(irc_connection, "_CLOSE_GRACE", 0.5)


async def small_window_client(port: int) -> RawClient:
    """A client whose kernel receive buffer is small, so it fills quickly once it stops reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    return RawClient(reader, writer)


class Listener:
    """Reads a client's lines in the background, answers PINGs and keeps what else came."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.lines: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            msg = await self.client.read_message(timeout=30)
            if msg is None:
                return
            if msg.command == "PING":
                await self.client.send(f"PONG :{msg.params[0]}")
            else:
                await self.lines.put(msg)

    async def expect(self, command: str, *params: str, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while True:
            msg = await asyncio.wait_for(self.lines.get(), max(0.001, deadline - time.monotonic()))
            if msg.command == command and list(msg.params[: len(params)]) == list(params):
                return msg

    async def stop(self) -> None:
        self.task.cancel()
        await self.client.close()


async def wait_gone(server, nick: str, timeout: float = 5.0) -> float:
    """Seconds until no connection of the server has `nick` (its socket is closed)."""
    started = time.monotonic()
    while any(conn.nick == nick for conn in server.connections):
        assert time.monotonic() - started < timeout, f"{nick}'s connection is still open"
        await asyncio.sleep(0.01)  # in-process state with no event to await, with a deadline
    return time.monotonic() - started


async def test_a_client_whose_buffers_are_full_is_cut_at_the_ping_timeout(start_server):
    # A SendQ larger than the flood below: only the ping timeout can drop it. Pings a bit
    # slower than the other tests': the flood must be over before the timeout, even on a busy CI.
    server = await start_server(limits={**PINGS, "ping_interval": 1.5, "ping_timeout": 1.0,
                                        "sendq": 4 * 1024 * 1024})
    dead = await small_window_client(server.port)
    await dead.register("dead")
    alice, bob = await RawClient.connect(server.port), await RawClient.connect(server.port)
    await alice.register("alice")
    await bob.register("bob")
    for client in (dead, alice, bob):
        await client.send("JOIN #busy")
        await client.expect("366", client.nick, "#busy")
    dead.writer.transport.pause_reading()  # from here on it reads (and writes) nothing
    # Small kernel buffers on the server's side too, so a little traffic fills them.
    dead_conn = next(c for c in server.connections if c.nick == "dead")
    dead_conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    listener, alice_listener = Listener(bob), Listener(alice)  # both answer their PINGs
    try:
        # 200 KB for dead: its kernel buffers fill, the rest waits in the server.
        text = "x" * 400
        for batch in range(5):
            await alice.send("\r\n".join(f"PRIVMSG #busy :{batch} {n} {text}" for n in range(100)))
            await listener.expect("PRIVMSG", "#busy", f"{batch} 99 {text}")
        assert dead_conn.transport.get_write_buffer_size() > 64 * 1024

        # Others are not held up by it: each message gets through at once.
        for n in range(5):
            sent = time.monotonic()
            await alice.send(f"PRIVMSG #busy :quick {n}")
            await listener.expect("PRIVMSG", "#busy", f"quick {n}")
            assert time.monotonic() - sent < 1.0  # a stalled server would take seconds, or never

        quit_ = await listener.expect("QUIT", timeout=10)
        assert quit_.source == "dead!~user@127.0.0.1"
        assert quit_.params[0].startswith("Ping timeout: ")
        # Its ERROR can never be delivered: the close is cut after the grace time.
        await wait_gone(server, "dead", timeout=3)
        assert dead_conn.transport.is_closing()
        assert len(server.connections) == 2
        await alice.send("PRIVMSG #busy :after")
        await listener.expect("PRIVMSG", "#busy", "after")
    finally:
        await listener.stop()
        await alice_listener.stop()
        await dead.close()


async def test_a_vanished_client_is_removed_by_the_ping_timeout(start_server):
    server = await start_server(limits=PINGS)
    gone = await RawClient.connect(server.port)
    await gone.register("gone")
    bob = await RawClient.connect(server.port)
    await bob.register("bob")
    for client in (gone, bob):
        await client.send("JOIN #room")
        await client.expect("366", client.nick, "#room")
    gone.writer.transport.pause_reading()  # silent from now on: no reads, no writes, no FIN
    listener = Listener(bob)
    try:
        started = time.monotonic()
        quit_ = await listener.expect("QUIT", timeout=10)
        waited = time.monotonic() - started
        assert quit_.source == "gone!~user@127.0.0.1"
        assert quit_.params[0].startswith("Ping timeout: ")
        # Idle for ping_interval, then ping_timeout to answer (the sweep adds up to 50 ms each).
        assert PINGS["ping_interval"] + PINGS["ping_timeout"] - 0.1 <= waited < 5.0
        await wait_gone(server, "gone", timeout=3)
        assert len(server.connections) == 1
        # bob answered his own PINGs all along and is still here.
        await bob.send("PRIVMSG #room :still here")
        await bob.send("WHOIS gone")
        await listener.expect("401", "bob", "gone")
    finally:
        await listener.stop()
        await gone.close()


async def test_many_silent_clients_go_and_leave_no_socket_behind(start_server):
    server = await start_server(limits={**PINGS, "max_per_ip": 100})
    silent = []
    for n in range(20):
        client = await small_window_client(server.port)
        await client.register(f"s{n}")
        await client.send("JOIN #crowd")
        await client.expect("366")
        client.writer.transport.pause_reading()
        silent.append(client)
    bob = await RawClient.connect(server.port)
    await bob.register("bob")
    listener = Listener(bob)
    try:
        await wait_gone(server, "s19", timeout=5)
        for n in range(20):
            await wait_gone(server, f"s{n}", timeout=3)
        assert [c.nick for c in server.connections] == ["bob"]
        assert server.local_users == 1
    finally:
        await listener.stop()
        for client in silent:
            await client.close()
