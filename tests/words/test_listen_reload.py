"""SIGHUP and REHASH open new `listen` entries and close removed ones; connections stay.

The subprocess runs `words serve --config FILE` without --listen (the
`words_process` fixture passes --listen, which pins the addresses), so the
file's addresses are the ones that follow a reload.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from support import REPO, RawClient, free_port, wait_for_port

from words.config import Listen, Oper
from words.cred import PasswordHasher


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


async def wait_refused(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(refused, port):
        assert time.monotonic() < deadline, f"127.0.0.1:{port} still accepts connections"
        await asyncio.sleep(0.02)  # polling a port with a deadline


async def wait_for_stderr(proc: subprocess.Popen, text: str, timeout: float = 10) -> str:
    async def scan() -> str:
        while True:
            line = await asyncio.to_thread(proc.stderr.readline)
            if not line:
                raise AssertionError(f"process ended before logging {text!r}")
            if text in line:
                return line

    return await asyncio.wait_for(scan(), timeout)


def write_config(path, *ports: int) -> None:
    listen = ", ".join(f"'127.0.0.1:{port}'" for port in ports)
    path.write_text(textwrap.dedent(f"""
        listen: [{listen}]
        limits: {{flood_burst: 100000, flood_rate: 100000}}
    """))


@pytest.fixture
def words_serve():
    procs: list[subprocess.Popen] = []

    def start(config, port: int) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "words", "serve", "--config", str(config)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
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


async def test_sighup_opens_new_listeners_and_closes_removed_ones(tmp_path, words_serve):
    config = tmp_path / "words.yaml"
    first, second = free_port(), free_port()
    write_config(config, first)
    proc = words_serve(config, first)
    alice = await RawClient.connect(first)
    bob = None
    try:
        await alice.register("alice")

        # Move from the first port to the second one.
        write_config(config, second)
        proc.send_signal(signal.SIGHUP)
        await asyncio.to_thread(wait_for_port, second, proc=proc)
        await wait_refused(first)
        # alice, who came in through the removed listener, is still here.
        bob = await RawClient.connect(second)
        await bob.register("bob")
        await alice.send("PRIVMSG bob :still connected")
        heard = await bob.expect("PRIVMSG")
        assert heard.to_line() == ":alice!~user@127.0.0.1 PRIVMSG bob :still connected"

        # Both again.
        write_config(config, first, second)
        proc.send_signal(signal.SIGHUP)
        await asyncio.to_thread(wait_for_port, first, proc=proc)
        carol = await RawClient.connect(first)
        await carol.register("carol")
        await carol.close()
        assert proc.poll() is None
    finally:
        await alice.close()
        if bob is not None:
            await bob.close()


async def test_an_address_in_use_is_logged_and_the_rest_goes_on(tmp_path, words_serve):
    config = tmp_path / "words.yaml"
    port = free_port()
    write_config(config, port)
    proc = words_serve(config, port)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        write_config(config, port, taken)
        proc.send_signal(signal.SIGHUP)
        line = await wait_for_stderr(proc, "cannot listen")
        assert f"REHASH: cannot listen on 127.0.0.1:{taken}: Address already in use" in line
    client = await RawClient.connect(port)
    try:
        await client.register("alice")
    finally:
        await client.close()
    # The failed address is tried again at the next reload, now that it is free.
    proc.send_signal(signal.SIGHUP)
    await asyncio.to_thread(wait_for_port, taken, proc=proc)


ROOT_HASH = PasswordHasher.from_config({"ln": 4}).hash("sesame")


async def test_rehash_tells_the_oper_which_address_it_could_not_have(start_server, tmp_path):
    path = tmp_path / "words.yaml"
    server = await start_server(opers=(Oper("root", ROOT_HASH),), source=str(path))
    server.listen_locked = False  # as `words serve --config` without --listen
    port = server.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        path.write_text(textwrap.dedent(f"""
            server: {{name: irc.test, network: TestNet}}
            hashing: {{ln: 4}}
            listen: ['127.0.0.1:{port}', '127.0.0.1:{taken}']
            opers: [{{name: root, password: "{ROOT_HASH}"}}]
        """))
        alice = await RawClient.connect(port)
        try:
            await alice.register("alice")
            await alice.send("OPER root sesame")
            await alice.expect("381")
            await alice.send("REHASH")
            await alice.expect("382")
            notice = await alice.expect("NOTICE")
            assert notice.params[1] == (
                f"*** REHASH: cannot listen on 127.0.0.1:{taken}: Address already in use"
            )
        finally:
            await alice.close()
    assert server.bound == [("127.0.0.1", port)]
    assert server.config.listen == (Listen("127.0.0.1", port), Listen("127.0.0.1", taken))


async def test_servers_built_in_code_keep_their_listeners(start_server, tmp_path):
    path = tmp_path / "words.yaml"
    path.write_text("server: {name: irc.test, motd: reloaded}\n")  # no listen: 127.0.0.1:6667
    server = await start_server(source=str(path))
    bound = server.bound
    assert server.rehash() is None
    assert server.config.motd == "reloaded"
    assert server.config.listen == (Listen("127.0.0.1", 0),)
    assert server.bound == bound
