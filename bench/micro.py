"""In-process micro-benchmarks of words' hot paths: repeatable where wall-clock runs are noisy.

    python -m bench.micro [--members 100] [--messages 20000] [--clients 2000] [--repeat 5]

No sockets: the IRC server is built as `words serve` builds it (bench/run.py's limits,
history on), its connections get a transport that takes the bytes and drops them, and
the lines are fed to `data_received`. So each figure is words' own Python work, without
the kernel's: **fan-out** (a PRIVMSG to a channel of `--members`, parsed, applied,
rendered and queued for every member, then flushed once per loop pass as the server
does) in ns per delivery; **registration** (NICK/USER through the Portal and the whole
welcome burst) in µs per client. The best of `--repeat` rounds is reported (the least
disturbed by other processes); CPU time of this process, not wall-clock.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from dataclasses import replace

from words.app import build_server
from words.config import Config, Limits, Listen
from words.irc.connection import IRCConnection
from words.irc.server import IRCServer


class NullTransport:
    """What IRCConnection needs of a transport; written bytes are counted and dropped."""

    def __init__(self, port: int) -> None:
        self.peer = ("127.0.0.1", port)
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):
        return self.peer if name == "peername" else default

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def bench_config() -> Config:
    """The limits bench/run.py gives words: nothing paces or caps the clients."""
    limits = replace(
        Limits(), max_channels_per_user=500, max_clients=1_000_000, registration_timeout=600,
        ping_interval=100_000, ping_timeout=100_000, sendq=1 << 26, max_per_ip=1_000_000,
        flood_burst=100_000_000, flood_rate=1e9, flood_max_queued=100_000_000,
        max_per_cidr_v4=1_000_000, throttle_connections=1_000_000,
    )
    return Config(server_name="irc.bench.local", network="Bench", motd="bench",
                  listen=(Listen("127.0.0.1", 0),), limits=limits)


_ports = iter(range(1, 1 << 30))


async def register(server: IRCServer, nicks: list[str]) -> list[IRCConnection]:
    """Connect and register one client per nick (NICK/USER, the Portal, the welcome burst)."""
    conns = []
    for name in nicks:
        conn = IRCConnection(server)
        conn.connection_made(NullTransport(next(_ports)))  # type: ignore[arg-type]
        conn.data_received(f"NICK {name}\r\nUSER {name} 0 * :{name}\r\n".encode())
        conns.append(conn)
    for _ in range(1000):
        if all(c.user is not None for c in conns):
            return conns
        await asyncio.sleep(0)
    missing = [c.nick for c in conns if c.user is None]
    raise RuntimeError(f"not registered: {missing[:5]} ({len(missing)})")


async def fanout(members: int, messages: int, per_pass: int) -> float:
    """ns of CPU per delivery: `messages` PRIVMSGs to a channel of `members`."""
    server = build_server(bench_config())
    conns = await register(server, [f"f{i}" for i in range(members)])
    for conn in conns:
        conn.data_received(b"JOIN #f\r\n")
    await asyncio.sleep(0)
    lines = [f"PRIVMSG #f :x f{i % members} {i} 1234567890123456789\r\n".encode()
             for i in range(messages)]
    gc.collect()
    t0 = time.process_time_ns()
    for i, line in enumerate(lines):
        conns[i % members].data_received(line)
        if i % per_pass == per_pass - 1:
            await asyncio.sleep(0)  # the loop pass: the server's one write per connection
    await asyncio.sleep(0)
    elapsed = time.process_time_ns() - t0
    deliveries = messages * (members - 1)
    if server.deliveries < deliveries:
        raise RuntimeError(f"only {server.deliveries} of {deliveries} deliveries queued")
    for conn in conns:
        conn.connection_lost(None)
    return elapsed / deliveries


async def registration(clients: int) -> float:
    """µs of CPU per registration (NICK/USER, the Portal login, the welcome burst)."""
    server = build_server(bench_config())
    await register(server, ["warm"])
    gc.collect()
    t0 = time.process_time_ns()
    conns = await register(server, [f"r{i}" for i in range(clients)])
    elapsed = time.process_time_ns() - t0
    for conn in conns:
        conn.connection_lost(None)
    return elapsed / clients / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--per-pass", type=int, default=20, help="messages per loop pass")
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=("fanout", "registration"))
    args = parser.parse_args(argv)
    if args.only != "registration":
        runs = [asyncio.run(fanout(args.members, args.messages, args.per_pass))
                for _ in range(args.repeat)]
        print(f"fan-out to {args.members - 1}: {min(runs):.1f} ns/delivery "
              f"(best of {args.repeat}; all {', '.join(f'{r:.1f}' for r in runs)})")
    if args.only != "fanout":
        runs = [asyncio.run(registration(args.clients)) for _ in range(args.repeat)]
        print(f"registration: {min(runs):.1f} µs/client "
              f"(best of {args.repeat}; all {', '.join(f'{r:.1f}' for r in runs)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
