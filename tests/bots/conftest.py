"""Fixtures for the bots tests: an ngIRCd, a server fixture over both servers, bots.

`irc_server` is parametrized: the same test runs against a words server in
this loop and against a real ngIRCd in a subprocess, to prove the client is
not tuned to our own server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import RawClient, ensure_system_package, free_port, wait_for_port

from bots.client import IRCClient
from bots.connector import Backoff, Connector
from bots.testing import BotHarness, start_harness


@dataclass
class ServerInfo:
    kind: str
    port: int
    host: str = "127.0.0.1"


NGIRCD_CONF = """\
[Global]
	Name = ngircd.test
	Info = ngIRCd for the bots tests
	AdminInfo1 = tests
	AdminInfo2 = tests
	AdminEMail = tests@localhost
	Listen = 127.0.0.1
	Ports = {port}
	MotdPhrase = ngIRCd test server
	PidFile = {dir}/ngircd.pid
	# Started as root (as on CI): drop to nobody, as ngircd.conf(5) advises.
	ServerUID = 65534
	ServerGID = 65534
[Limits]
	MaxNickLength = 30
	PingTimeout = 120
	PongTimeout = 60
	MaxConnectionsIP = 0
[Options]
	DNS = no
	Ident = no
	PAM = no
	IncludeDir = {dir}/conf.d
"""


@pytest.fixture(scope="session")
def ngircd_binary() -> str:
    return ensure_system_package("ngircd", "ngircd")


@pytest.fixture
def ngircd(ngircd_binary) -> ServerInfo:
    """A real ngIRCd in the foreground (-n) on a free loopback port; stopped at teardown."""
    with tempfile.TemporaryDirectory(prefix="ngircd-") as tmp:
        os.chmod(tmp, 0o777)  # the pid file is written after dropping to nobody
        (Path(tmp) / "conf.d").mkdir()
        port = free_port()
        conf = Path(tmp) / "ngircd.conf"
        conf.write_text(NGIRCD_CONF.format(port=port, dir=tmp))
        conf.chmod(0o644)
        proc = subprocess.Popen(
            [ngircd_binary, "-n", "-f", str(conf)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, proc=proc, timeout=15)
            yield ServerInfo("ngircd", port)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()


@pytest.fixture
async def restartable_server():
    """`await restartable_server(port)` starts a words server that a test may stop itself
    (stopped here at teardown only if the test did not)."""
    from words.app import build_server
    from words.config import Config, Listen

    servers = []

    async def start(port: int):
        server = build_server(Config(server_name="irc.test", network="TestNet",
                                     listen=(Listen("127.0.0.1", port),), hashing={"ln": 4}))
        await server.start()
        server.port = port
        server.stopped = False
        original_stop = server.stop

        async def stop(*args):
            if not server.stopped:
                server.stopped = True
                await original_stop(*args)

        server.stop = stop
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture(params=["words", "ngircd"])
async def irc_server(request, start_server) -> ServerInfo:
    """The same test against a words server and against ngIRCd."""
    if request.param == "words":
        server = await start_server()
        return ServerInfo("words", server.port)
    return request.getfixturevalue("ngircd")


@pytest.fixture
async def raw_client() -> AsyncIterator[Callable[..., asyncio.Future[RawClient]]]:
    """`await raw_client(port, "alice")`: a registered raw client on any server."""
    clients: list[RawClient] = []

    async def open_client(port: int, nick: str | None = None,
                          password: str | None = None) -> RawClient:
        client = await RawClient.connect(port)
        clients.append(client)
        if nick is not None:
            await client.register(nick, password)
        return client

    yield open_client
    for client in clients:
        await client.close()


@pytest.fixture
async def run_bot() -> AsyncIterator[Callable[..., asyncio.Future[IRCClient]]]:
    """`await run_bot(client, port)`: connect an IRCClient under a Connector, wait for signed_on."""
    running: list[tuple[Connector, asyncio.Task]] = []

    async def start(client: IRCClient, port: int, *, wait: bool = True, **connector_args) -> IRCClient:
        connector_args.setdefault("backoff", Backoff(initial=0.05, max_delay=0.5))
        connector = Connector(client, "127.0.0.1", port, **connector_args)
        task = asyncio.create_task(connector.run())
        client.connector = connector  # type: ignore[attr-defined]
        client.run_task = task  # type: ignore[attr-defined]
        running.append((connector, task))
        if wait:
            waiter = asyncio.ensure_future(client.signed_on_event.wait())
            done, _ = await asyncio.wait({waiter, task}, timeout=10,
                                         return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                if task in done:
                    task.result()  # raises what ended the connector
                raise AssertionError("the bot did not sign on within 10s")
        return client

    yield start
    for connector, task in running:
        if not task.done():
            connector.stop("test over")
            try:
                await asyncio.wait_for(task, 5)
            except Exception:  # noqa: BLE001 - teardown; the test has already reported
                task.cancel()
        for t in list(connector.client.tasks):
            t.cancel()


@pytest.fixture
async def bot_harness(start_server, tmp_path):
    """`h = await bot_harness("dice", server=irc_server, ...Bot options)`: see bots.testing.

    Like bots.pytest_plugin's fixture, but on the suite's own server fixtures.
    """
    made: list[BotHarness] = []

    async def make(*plugins: str, server=None, **options) -> BotHarness:
        server = server or await start_server()
        options.setdefault("storage", str(tmp_path / f"{options.get('nick', 'testbot')}.sqlite"))
        harness = await start_harness(*plugins, server=server, **options)
        made.append(harness)
        return harness

    yield make
    for harness in reversed(made):
        await harness.close()
