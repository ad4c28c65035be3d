"""Reconnection: backoff, restart of the server on the same port, rejoin, no retry loops."""

from __future__ import annotations

import asyncio
import random

import pytest
from support import free_port

from bots.connector import Backoff, ConnectionFailed, Connector, FatalError
from bots.testing import RecordingClient


def test_backoff_grows_is_capped_jittered_and_resets():
    backoff = Backoff(initial=1, factor=2, max_delay=10, jitter=0.1, rng=random.Random(7))
    delays = [backoff.next() for _ in range(8)]
    nominal = [1, 2, 4, 8, 10, 10, 10, 10]
    for got, want in zip(delays, nominal):
        assert abs(got - want) <= want * 0.5  # jittered around the nominal delay
    assert len(set(delays)) == len(delays)  # jitter: never the same instant twice
    backoff.reset()
    assert abs(backoff.next() - 1) <= 0.5


async def test_reconnects_with_backoff_and_rejoins_after_restart(restartable_server, run_bot):
    port = free_port()
    server = await restartable_server(port)
    bot = await run_bot(RecordingClient("phoenix", burst=20, rate=100), port,
                        backoff=Backoff(initial=0.05, factor=2, max_delay=0.4), stable_after=60)
    bot.join("#ashes")
    await bot.wait_event("joined")
    mark = bot.mark()
    await server.stop()
    await bot.wait_event("connection_closed", start=mark)
    # While the server is down, attempts fail and the delay grows.
    connector = bot.connector
    deadline = asyncio.get_running_loop().time() + 5
    while connector.retries < 3:
        assert asyncio.get_running_loop().time() < deadline, "no retries while the server was down"
        await asyncio.sleep(0.02)  # polling a counter with a deadline, as wait_for_port
    assert connector.backoff.delay > 0.05
    await restartable_server(port)
    await bot.wait_event("signed_on", start=mark, timeout=10)
    # The channel wanted before the drop is joined again, without asking.
    assert await bot.wait_event("joined", start=mark, timeout=10) == ("#ashes",)
    assert bot.connections == 2


async def test_backoff_resets_after_a_stable_connection(start_server, run_bot):
    server = await start_server()
    bot = await run_bot(RecordingClient("steady", burst=20, rate=100), server.port,
                        backoff=Backoff(initial=0.05, factor=2, max_delay=1), stable_after=0)
    bot.connector.backoff.delay = 1  # as if it had failed a few times before
    mark = bot.mark()
    for conn in list(server.connections):
        conn.close("kicked off for the test")
    await bot.wait_event("signed_on", start=mark, timeout=5)
    assert bot.connector.backoff.delay <= 0.1  # reset, then grown once


async def test_wrong_password_is_not_retried(start_server):
    server = await start_server(auth=("memory:locked:secret",))
    client = RecordingClient("locked", password="wrong", burst=20, rate=100)
    connector = Connector(client, "127.0.0.1", server.port, backoff=Backoff(initial=0.01))
    with pytest.raises(FatalError, match="password"):
        await asyncio.wait_for(connector.run(), 10)
    assert client.connections == 1


async def test_unreachable_server_without_initial_retry_stops():
    client = RecordingClient("nobody")
    connector = Connector(client, "127.0.0.1", free_port(), retry_initial=False)
    with pytest.raises(ConnectionFailed):
        await asyncio.wait_for(connector.run(), 10)


async def test_max_retries_gives_up():
    client = RecordingClient("nobody")
    connector = Connector(client, "127.0.0.1", free_port(), max_retries=2,
                          backoff=Backoff(initial=0.01, max_delay=0.02))
    with pytest.raises(ConnectionFailed, match="2 retries"):
        await asyncio.wait_for(connector.run(), 10)
