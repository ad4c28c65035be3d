"""words.heap: free heap memory back to the system after many connections closed."""

from __future__ import annotations

import platform

import pytest
from support import RawClient, wait_until

import words.irc.server as irc_server
from words import heap

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")


@glibc
def test_trim_asks_glibc() -> None:
    assert heap.trim() is True


@pytest.fixture
def fast_sweep(monkeypatch):
    monkeypatch.setattr(irc_server, "_SWEEP_SECONDS", 0.02)
    monkeypatch.setattr(irc_server, "_TRIM_AFTER_CLOSES", 3)


async def open_and_close(port: int, n: int) -> None:
    for i in range(n):
        client = await RawClient.connect(port)
        await client.register(f"churn{i}")
        await client.send("QUIT :bye")
        assert await client.closed()
        await client.close()


async def sweeps(server, n: int) -> None:
    start = server.loop_lag_count  # one per sweep
    await wait_until(lambda: server.loop_lag_count >= start + n, f"{n} sweeps")


@glibc
async def test_the_sweep_trims_after_every_so_many_closes(start_server, fast_sweep) -> None:
    server = await start_server()
    await open_and_close(server.port, 2)
    await wait_until(lambda: not server.connections, "the two gone")
    await sweeps(server, 3)
    assert server.heap_trims == 0  # 2 closes: not yet
    await open_and_close(server.port, 1)
    await wait_until(lambda: server.heap_trims == 1, "a trim after the third close")
    await open_and_close(server.port, 2)
    await wait_until(lambda: not server.connections, "the next two gone")
    await sweeps(server, 3)
    assert server.heap_trims == 1  # counted again from the last trim
    await open_and_close(server.port, 1)
    await wait_until(lambda: server.heap_trims == 2, "a trim after three more")
