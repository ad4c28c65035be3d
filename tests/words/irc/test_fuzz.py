"""A short fuzz run against a live server: random and mutated lines from many connections.

The server must not crash, must not leak connections, and must answer a
well-formed PING on every connection it did not close. (A longer run of the
same generator belongs in bench/; this one is bounded for CI.)
"""

from __future__ import annotations

import asyncio
import random

from support import RawClient, wait_until

from words.irc.commands import load_handlers

SEEDS = range(20)
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


async def test_random_and_mutated_input_from_many_clients(start_server, caplog):
    server = await start_server(limits={"max_per_ip": 1000})
    # Commands that end a session on purpose are left out: they would only shrink the run.
    commands = sorted(set(load_handlers()) - {"QUIT", "DIE", "RESTART", "KILL"})
    clients = []
    for seed in SEEDS:
        client = await RawClient.connect(server.port)
        await client.register(f"fuzz{seed}")
        clients.append(client)

    async def run(client: RawClient, seed: int) -> None:
        rng = random.Random(seed)
        for line in fuzz_lines(rng, commands):
            client.writer.write(line + b"\r\n")
        await client.writer.drain()

    async def drain(client: RawClient) -> None:
        # Keep reading so no client stalls on a full socket while the others fuzz.
        while await client.read_message(timeout=30) is not None:
            pass

    readers = [asyncio.create_task(drain(c)) for c in clients]
    await asyncio.gather(*(run(c, seed) for c, seed in zip(clients, SEEDS)))
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)

    survivors = [c for c in clients if not c.reader.at_eof()]
    assert survivors, "the fuzz closed every connection"
    for client in survivors:
        await client.send("PING :still-there")
        await client.expect("PONG", server.name, "still-there")

    fresh = await RawClient.connect(server.port)
    await fresh.register("newcomer")
    for client in [*clients, fresh]:
        await client.close()
    await wait_until(lambda: not server.connections, "every connection cleaned up (none leaks)")
    # Every line got an answer or was dropped on purpose: no handler raised.
    raised = [r.getMessage() for r in caplog.records if r.exc_info is not None]
    assert not raised, raised
