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
from support import REPO, RawClient, fresh_postgres_database, wait_for_port

from words.app import build_server, start_gateway, stop_gateway
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
        if hasattr(server.realm, "open"):
            await server.realm.open()  # the SQL realm (config `database=...`)
        await server.start()
        await start_gateway(server)  # the XMPP gateway, when the config has one
        server.port = server.bound[0][1]
        servers.append(server)
        return server

    yield start
    for server in servers:
        await stop_gateway(server)
        await server.stop()
        if hasattr(server.realm, "close"):
            await server.realm.close()


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


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL server from Debian's package on a free loopback port, for this session.

    Installed when missing (as the README's test command promises), run as the
    unprivileged `postgres` user from a temporary data directory.
    """
    from support import start_postgres

    server = start_postgres()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A redis-server from Debian's package on a free loopback port, for this session.

    Nothing saved to disk (`--save '' --appendonly no`); installed when missing.
    """
    from support import start_redis

    server = start_redis()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def prosody():
    """A real Prosody on free loopback ports for this session (tests/xmpp_support.py)."""
    from xmpp_support import ProsodyServer

    server = ProsodyServer()
    server.start()
    yield server
    server.close()


REALM_KINDS = ["memory", "sqlite", "postgresql"]


@pytest.fixture
async def make_realm(request, tmp_path):
    """`await make_realm(kind, **options)`: a words realm of that kind, opened; closed after."""
    opened = []

    async def make(kind: str, **options):
        from words.realm import InMemoryWordsRealm
        from words.realm.sql import SQLWordsRealm

        options.setdefault("create_group_on_request", True)
        if kind == "memory":
            return InMemoryWordsRealm("example.com", **options)
        if kind == "sqlite":
            url = f"sqlite:///{tmp_path / 'words.db'}"
        else:
            url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
        realm = SQLWordsRealm("example.com", url, **options)
        await realm.open()
        opened.append(realm)
        return realm

    yield make
    for realm in opened:
        await realm.close()


# System servers some tests need: installed once after collection, before any test
# runs, so no test's timeout ever counts an apt-get. (fixture, test id part) -> package.
SYSTEM_SERVERS = [
    (("postgres_url", "[postgresql"), ("postgresql", "psql")),
    (("ngircd_binary", "[ngircd"), ("ngircd", "ngircd")),
    (("prosody", "[prosody"), ("prosody", "prosody")),
    (("redis_url", "[redis"), ("redis-server", "redis-server")),
]


def pytest_collection_finish(session) -> None:
    from support import ensure_system_package

    for (fixture, id_part), (package, binary) in SYSTEM_SERVERS:
        if any(fixture in getattr(item, "fixturenames", ()) or id_part in item.nodeid
               for item in session.items):
            ensure_system_package(package, binary)
