"""Flood control: the token bucket, and a 50-line burst paced through a real server."""

from __future__ import annotations

import asyncio
import time

from bots.limiter import SendQueue, TokenBucket
from bots.testing import RecordingClient


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_burst_then_rate():
    clock = FakeClock()
    bucket = TokenBucket(burst=3, rate=2, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.delay() == 0.5
    clock.now += 0.5
    assert bucket.take() and not bucket.take()
    clock.now += 100
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]  # capped at burst


def test_priority_never_borrows():
    clock = FakeClock()
    bucket = TokenBucket(burst=1, rate=1, clock=clock)
    bucket.take_anyway()
    bucket.take_anyway()
    clock.now += 1
    assert bucket.take()  # priority lines did not push normal ones further back


async def test_queue_paces_and_priority_jumps_the_queue():
    written: list[tuple[float, bytes]] = []
    all_written = asyncio.Event()

    def write(data: bytes) -> None:
        written.append((time.monotonic(), data))
        if len(written) == 11:
            all_written.set()

    queue = SendQueue(write, TokenBucket(2, 50))
    start = time.monotonic()
    for i in range(10):
        queue.send(b"line %d" % i)
    queue.send(b"PONG", priority=True)
    assert [d for _, d in written] == [b"line 0", b"line 1", b"PONG"]
    await asyncio.wait_for(all_written.wait(), 5)
    for k, (t, data) in enumerate(w for w in written if w[1] != b"PONG"):
        assert t - start >= (k - 2) / 50 - 0.005, (k, t - start)
    queue.clear()


async def test_fifty_line_burst_is_paced_through_the_server(start_server, run_bot, raw_client):
    burst, rate = 5, 50.0
    server = await start_server()
    bot = await run_bot(RecordingClient("flood", burst=burst, rate=rate), server.port)
    alice = await raw_client(server.port, "alice")
    bot.queue.bucket = TokenBucket(burst, rate)  # a full bucket, whatever registration used
    start = time.monotonic()
    for i in range(50):
        bot.msg("alice", f"line {i}")
    arrivals = []
    for i in range(50):
        msg = await alice.expect("PRIVMSG")
        assert msg.params[1] == f"line {i}"
        arrivals.append(time.monotonic() - start)
    # Line k may not arrive before the bucket allowed it to leave (a lower bound:
    # a slow machine only makes it later, so this cannot flake).
    for k, t in enumerate(arrivals):
        assert t >= (k - burst) / rate - 0.005, (k, t)
    assert arrivals[-1] >= (50 - burst) / rate - 0.005


async def test_pong_is_not_delayed_behind_the_queue():
    """A minimal server on a real socket PINGs the bot while 50 lines are queued."""
    received: list[str] = []
    done = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            line = (await reader.readline()).decode().rstrip("\r\n")
            if not line:
                break
            received.append(line)
            if line.startswith("USER"):
                writer.write(b":srv 001 flood :Welcome flood!u@h\r\n:srv 376 flood :End\r\n")
            elif line == "PRIVMSG alice :line 0":
                writer.write(b"PING :are-you-there\r\n")
            elif line == "PRIVMSG alice :line 49":
                done.set()
                break
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RecordingClient("flood", burst=5, rate=20)
    transport, _ = await asyncio.get_running_loop().create_connection(lambda: client, "127.0.0.1", port)
    try:
        await asyncio.wait_for(client.signed_on_event.wait(), 5)
        for i in range(50):
            client.msg("alice", f"line {i}")
        await asyncio.wait_for(done.wait(), 10)
    finally:
        transport.close()
        server.close()
        await server.wait_closed()
    lines = [line for line in received if line.startswith(("PRIVMSG", "PONG"))]
    pong = lines.index("PONG are-you-there")
    # Order, not wall-clock: the PONG overtook most of the 45 queued lines.
    assert pong < 15, lines[: pong + 1]
    assert len(lines) == 51
