"""Shared fixtures: a words server on a free port, raw IRC clients, `words` subprocesses.

Everything talks over real sockets on 127.0.0.1. Helpers live in support.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from typing import AsyncIterator, Callable

import pytest
from support import REPO, RawClient, wait_for_port

from words.app import build_server
from words.config import Config, Limits, Listen
from words.irc.server import IRCServer


def make_config(**overrides) -> Config:
    # Input pacing is off unless a test asks for it: tests send fast on purpose.
    limits = {"flood_burst": 100000, "flood_rate": 100000.0, **overrides.pop("limits", {})}
    config = Config(
        server_name="irc.test",
        network="TestNet",
        listen=(Listen("127.0.0.1", 0),),
        limits=replace(Limits(), **limits),
        hashing={"ln": 4},
    )
    return replace(config, **overrides)


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., "asyncio.Future[IRCServer]"]]:
    """`await start_server(**config)` runs a server in this loop on a free port."""
    servers: list[IRCServer] = []

    async def start(**overrides) -> IRCServer:
        server = build_server(make_config(**overrides))
        await server.start()
        server.port = server.bound[0][1]
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def server(start_server) -> IRCServer:
    return await start_server()


@pytest.fixture
async def connect(server) -> AsyncIterator[Callable[..., "asyncio.Future[RawClient]"]]:
    """`await connect("alice")`: a registered raw client (or unregistered with nick=None)."""
    clients: list[RawClient] = []

    async def open_client(nick: str | None = None, password: str | None = None,
                          port: int | None = None) -> RawClient:
        client = await RawClient.connect(port or server.port)
        clients.append(client)
        if nick is not None:
            await client.register(nick, password)
        return client

    yield open_client
    for client in clients:
        await client.close()


@pytest.fixture
def words_process():
    """Start `words serve ...` as a subprocess; it is stopped (SIGTERM) at teardown."""
    procs: list[subprocess.Popen] = []

    def start(*args: str, port: int) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "words", "serve", "--listen", f"127.0.0.1:{port}", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        )
        procs.append(proc)
        wait_for_port(port, proc=proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
