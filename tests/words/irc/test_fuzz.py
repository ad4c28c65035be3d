"""A short fuzz run against a live server: random and mutated lines from many connections.

The server must not crash, must not leak connections (nor their counts in the
per-address limits), must tell every connection it closes why (an ERROR), must
keep most of them, and must answer a well-formed PING on every one it kept.
Registered and unregistered clients, from several loopback addresses, with the
loopback exempt from the connection limits and counted by them. (A longer run
of the same generator is bench/soak.py; this one is bounded for CI.)
"""

from __future__ import annotations

import asyncio
import random

import pytest
from support import RawClient, wait_until

from words.irc.commands import load_handlers

REGISTERED = range(20)
UNREGISTERED = range(100, 106)  # connections that do not register first (the fuzz may register them)
LINES_PER_CLIENT = 150
SAMPLES = [
    b"PRIVMSG #fuzz :hello there", b"JOIN #fuzz", b"MODE #fuzz +ntk-l key",
    b"@+a=b;c=\\sd :x!y@z PRIVMSG #fuzz :tagged", b"TOPIC #fuzz :new topic",
    b"WHO #fuzz", b"WHOIS fuzz0", b"NAMES #fuzz", b"NICK fuzzy", b"KICK #fuzz fuzz1 :out",
    b"CAP REQ :sasl", b"AUTHENTICATE PLAIN", b"AUTHENTICATE Zm9v", b"LIST >0",
    b"PRIVMSG fuzz1 :\x01ACTION waves\x01", b"TAGMSG #fuzz", b"AWAY :gone", b"INVITE fuzz2 #fuzz",
]


def mutate(rng: random.Random, line: bytes) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.3 and data:
            del data[rng.randrange(len(data))]
        elif choice < 0.6:
            data.insert(rng.randint(0, len(data)), rng.randrange(256))
        elif choice < 0.8:
            data[rng.randint(0, len(data)) :] = b" " * rng.randint(0, 40)
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.randint(0, 600)))
    return bytes(data).replace(b"\n", b"")


def fuzz_lines(rng: random.Random, commands: list[str]) -> list[bytes]:
    lines = []
    for _ in range(LINES_PER_CLIENT):
        kind = rng.random()
        if kind < 0.4:
            lines.append(mutate(rng, rng.choice(SAMPLES)))
        elif kind < 0.7:
            name = rng.choice(commands)
            params = [rng.choice(["#fuzz", "fuzz1", "*", ":", "0", "+o", "¹2", "x" * rng.randint(0, 300)])
                      for _ in range(rng.randint(0, 6))]
            if rng.random() < 0.3:  # a trailing parameter with spaces, in any position
                params.append(":a b " + rng.choice(["#fuzz", "¹", ""]))
            lines.append(" ".join([name, *params]).encode())
        else:
            lines.append(bytes(rng.randrange(256) for _ in range(rng.randint(0, 700))).replace(b"\n", b""))
    return lines


async def fuzz(client: RawClient, lines: list[bytes], token: str) -> bool:
    """Send `lines`, then a PING: True once its PONG comes back, False if the server closed
    the connection first (everything up to that is read, into client.received)."""

    async def read() -> bool:
        # Reading all along, so no client stalls on a full socket while the others fuzz.
        while (msg := await client.read_message(timeout=30)) is not None:
            if msg.command == "PONG" and msg.params[-1] == token:
                return True
        return False

    reader = asyncio.create_task(read())
    try:
        for line in lines:
            client.writer.write(line + b"\r\n")
        client.writer.write(f"PING :{token}\r\n".encode())
        await client.writer.drain()
    except ConnectionError:
        pass  # closed by the server meanwhile: the reader sees why
    return await reader


@pytest.mark.parametrize("loopback", ["exempt", "counted"])
async def test_random_and_mutated_input_from_many_clients(start_server, caplog, loopback):
    limits = {"max_per_ip": 1000, "max_per_cidr_v4": 1000, "throttle_connections": 1000}
    if loopback == "counted":
        limits["per_ip_exempt"] = ()  # the per-address and per-network caps count every client
    server = await start_server(limits=limits)
    # Commands that end a session on purpose are left out: they would only shrink the run;
    # but the unregistered may QUIT, so some connections do end (and must say why).
    commands = sorted(set(load_handlers()) - {"QUIT", "DIE", "RESTART", "KILL"})
    with_quit = sorted({*commands, "QUIT"})
    clients = []
    for seed in [*REGISTERED, *UNREGISTERED]:
        client = await RawClient.connect(server.port, source=f"127.0.0.{1 + seed % 4}")
        if seed in REGISTERED:
            await client.register(f"fuzz{seed}")
        clients.append(client)
    if loopback == "counted":
        assert sum(server.conn_limits.per_ip.values()) == len(clients)
        assert server.conn_limits.per_network == {"127.0.0.0/24": len(clients)}

    survived = await asyncio.gather(*(
        fuzz(client, fuzz_lines(random.Random(seed), commands if seed in REGISTERED else with_quit),
             f"judge-{seed}")
        for client, seed in zip(clients, [*REGISTERED, *UNREGISTERED])
    ))
    survivors = [c for c, alive in zip(clients, survived) if alive]
    # A connection the server closed was told why; most connections survive the garbage.
    for client, alive in zip(clients, survived):
        if not alive:
            assert [m for m in client.received if m.command == "ERROR"], client.received[-5:]
    assert len(survivors) >= len(clients) // 2, f"only {len(survivors)} of {len(clients)} survived"
    for client in survivors:
        await client.send("PING :still-there")
        await client.expect("PONG", server.name, "still-there")

    fresh = await RawClient.connect(server.port)
    await fresh.register("newcomer")
    for client in [*clients, fresh]:
        await client.close()
    await wait_until(lambda: not server.connections, "every connection cleaned up (none leaks)")
    # Every connection counted against the caps was released.
    assert not server.conn_limits.per_ip and not server.conn_limits.per_network
    # Every line got an answer or was dropped on purpose: no handler raised.
    raised = [r.getMessage() for r in caplog.records if r.exc_info is not None]
    assert not raised, raised
