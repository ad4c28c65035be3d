"""The `words` command line, run as a real subprocess."""

from __future__ import annotations

import asyncio
import signal

import pytest
from support import RawClient, free_port, fresh_postgres_database, run_words


def test_help_auth_lists_every_kind():
    result = run_words("--help-auth")
    assert result.returncode == 0
    for kind in ("memory", "file", "anonymous"):
        assert kind in result.stdout


def test_hashpw_reads_stdin_and_prints_a_phc_hash(tmp_path):
    result = run_words("hashpw", "--stdin", input="s3cret\n")
    assert result.returncode == 0, result.stderr
    digest = result.stdout.strip()
    assert digest.startswith("$scrypt$ln=14,r=8,p=1$")
    assert "s3cret" not in result.stdout


def test_hashpw_refuses_an_empty_password():
    result = run_words("hashpw", "--stdin", input="\n")
    assert result.returncode != 0
    assert "empty password" in result.stderr


def test_check_config_accepts_the_shipped_config():
    result = run_words("check-config", "config/words.yaml")
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_names_file_key_and_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("limits:\n  nicklen: -3\n")
    result = run_words("check-config", str(bad))
    assert result.returncode == 2
    assert f"{bad}: limits.nicklen: must be at least 1, got -3" in result.stderr


def test_serve_refuses_a_bad_auth_string():
    result = run_words("serve", "--listen", f"127.0.0.1:{free_port()}", "--auth", "ldap:x")
    assert result.returncode == 2
    assert "ldap" in result.stderr


def test_serve_refuses_a_bad_config_without_starting(tmp_path):
    bad = tmp_path / "words.yaml"
    bad.write_text("server:\n  nmae: typo.example\n")
    result = run_words("serve", "--config", str(bad))
    assert result.returncode == 2
    assert f"{bad}: server.nmae: unknown key" in result.stderr


async def test_the_book_scenario(tmp_path, words_process):
    """Twisted's example: a passwords file, two users, #twisted-bots created on join."""
    alice_hash = run_words("hashpw", "--stdin", input="wonderland\n").stdout.strip()
    bob_hash = run_words("hashpw", "--stdin", input="builder\n").stdout.strip()
    passwords = tmp_path / "passwords.txt"
    passwords.write_text(f"# the words users\nalice:{alice_hash}\nbob:{bob_hash}\n")
    port = free_port()
    proc = words_process("--auth", f"file:{passwords}", port=port)

    alice = await RawClient.connect(port)
    await alice.register("alice", password="wonderland")
    bob = await RawClient.connect(port)
    await bob.register("bob", password="builder")

    await alice.send("JOIN #twisted-bots")
    await alice.expect("JOIN", "#twisted-bots")
    names = await alice.expect("353")
    assert names.params[-1] == "@alice"
    await bob.send("JOIN #twisted-bots")
    joined = await alice.expect("JOIN", "#twisted-bots")
    assert joined.source.startswith("bob!")

    await bob.send("PRIVMSG #twisted-bots :hello, twisted bots")
    said = await alice.expect("PRIVMSG", "#twisted-bots")
    assert said.params[1] == "hello, twisted bots" and said.nick == "bob"
    await alice.send("PRIVMSG bob :just for you")
    private = await bob.expect("PRIVMSG", "bob")
    assert private.params[1] == "just for you" and private.nick == "alice"

    intruder = await RawClient.connect(port)
    await intruder.send("PASS wrong")
    await intruder.send("NICK alice2")
    await intruder.send("USER x 0 * :x")
    refused = await intruder.expect("464")
    assert refused.params[-1] == "Password incorrect"
    await intruder.expect("ERROR")
    assert await intruder.closed()

    twin = await RawClient.connect(port)
    await twin.send("PASS alice:wonderland")
    await twin.send("NICK alice")
    in_use = await twin.expect("433")
    assert in_use.params[1] == "alice"

    for client in (alice, bob, intruder, twin):
        await client.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0  # the README: SIGTERM exits within a few seconds
    out = proc.stdout.read()
    assert f"127.0.0.1:{port}" in out and "file" in out


async def test_default_serve_allows_anonymous_and_says_goodbye_on_sigterm(words_process):
    port = free_port()
    proc = words_process(port=port)
    client = await RawClient.connect(port)
    await client.register("guest")
    proc.send_signal(signal.SIGTERM)
    error = await client.expect("ERROR")
    assert "Server shutting down" in error.params[0]
    assert proc.wait(timeout=5) == 0  # the README: SIGTERM exits within a few seconds
    await client.close()
    assert "realm      in-memory 'words.local', casemapping rfc1459" in proc.stdout.read()


def test_serve_with_a_database_that_cannot_be_reached_says_so_and_exits(tmp_path):
    config = tmp_path / "words.yaml"
    port = free_port()  # nothing listens there
    config.write_text(f"realm: {{database: 'postgresql://words:s3cret@127.0.0.1:{port}/words'}}\n")
    result = run_words("serve", "--config", str(config), "--listen", f"127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"words: error: {config}: realm.database: "
        "database error while reading the schema version: OperationalError")
    assert "Connection refused" in result.stderr  # the logged reason
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stdout + result.stderr


async def test_the_start_up_summary_names_the_database_without_its_password(
        tmp_path, words_process, postgres_url):
    url = fresh_postgres_database(postgres_url).replace("://postgres@", "://postgres:s3cret@")
    config = tmp_path / "words.yaml"  # the test server trusts loopback: any password will do
    config.write_text(f"realm: {{name: example.org, database: '{url}'}}\n")
    port = free_port()
    proc = words_process("--config", str(config), port=port)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    out = proc.stdout.read()
    shown = url.replace(":s3cret@", ":***@")
    assert f"realm      SQL ({shown}) 'example.org', casemapping rfc1459" in out, out
    assert "s3cret" not in out + proc.stderr.read()


async def test_serve_runs_on_uvloop_when_the_config_says_so(tmp_path, words_process):
    pytest.importorskip("uvloop")  # the optional extra words[uvloop]
    port = free_port()
    config = tmp_path / "words.yaml"
    config.write_text(f"listen: ['127.0.0.1:{port}']\nevent_loop: uvloop\n")
    proc = words_process("--config", str(config), port=port)
    alice = await RawClient.connect(port)
    bob = await RawClient.connect(port)
    await alice.register("alice")
    await bob.register("bob")
    await alice.send("PRIVMSG bob :over libuv")
    line = await bob.expect("PRIVMSG")
    assert line.params == ["bob", "over libuv"] and line.source.startswith("alice!")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0  # the README: SIGTERM exits within a few seconds
    await alice.close()
    await bob.close()


async def test_sighup_reloads_the_config_and_keeps_connections(tmp_path, words_process):
    config = tmp_path / "words.yaml"
    config.write_text("server: {motd: before}\n")
    port = free_port()
    proc = words_process("--config", str(config), port=port)
    client = await RawClient.connect(port)
    await client.register("stayer")
    config.write_text("server: {motd: after}\n")
    proc.send_signal(signal.SIGHUP)
    # The reload is logged once done; then MOTD shows the new text on the same connection.
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        await client.send("MOTD")
        motd = await client.expect("372")
        await client.expect("376")
        if motd.params[-1] == "- after":
            break
        assert asyncio.get_running_loop().time() < deadline, "SIGHUP did not reload the config"
    config.write_text("server: {motd: bad}\nlimits: {nicklen: -1}\n")
    proc.send_signal(signal.SIGHUP)
    refused = await wait_for_stderr(proc, "REHASH refused")  # a bad file is refused, with the reason...
    assert refused.rstrip().endswith(f"REHASH refused: {config}: limits.nicklen: must be at least 1, got -1")
    await client.send("MOTD")
    assert (await client.expect("372")).params[-1] == "- after"  # ...and the old config stays
    await client.close()


async def wait_for_stderr(proc, text: str, timeout: float = 10) -> str:
    """Read the process's stderr until a line contains `text` (with a deadline)."""

    async def scan() -> str:
        while True:
            line = await asyncio.to_thread(proc.stderr.readline)
            if not line:
                raise AssertionError(f"process ended before logging {text!r}")
            if text in line:
                return line

    return await asyncio.wait_for(scan(), timeout)


BACKLOG_CONFIG = "limits: {sendq: 67108864, flood_burst: 100000, flood_rate: 100000}\n"
# 8 MB: more than the kernel buffers of both sockets hold (4 MB at most here).
BACKLOG_LINES = 20000


async def serve_a_slow_reader(tmp_path, words_process):
    """`words serve` with two clients in #backlog: (process, slow, fast), where slow stopped
    reading with BACKLOG_LINES messages of fast's queued for it."""
    import socket

    config = tmp_path / "words.yaml"
    config.write_text(BACKLOG_CONFIG)
    port = free_port()
    proc = words_process("--config", str(config), port=port)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the backlog stays in the server
    sock.connect(("127.0.0.1", port))
    slow = RawClient(*await asyncio.open_connection(sock=sock))
    fast = await RawClient.connect(port)
    await slow.register("slow")
    await fast.register("fast")
    for client in (slow, fast):
        await client.send("JOIN #backlog")
        await client.expect("366")
    await slow.until_pong()
    slow.writer.transport.pause_reading()
    text = "x" * 400
    for start in range(0, BACKLOG_LINES, 1000):
        await fast.send(b"\r\n".join(f"PRIVMSG #backlog :{i} {text}".encode()
                                     for i in range(start, start + 1000)))
    await fast.until_pong()  # the server queued all of them for slow
    return proc, slow, fast


async def test_sigterm_hands_a_slow_reader_its_whole_backlog_then_the_error(tmp_path, words_process):
    """A client that stopped reading has a backlog queued in the server; after SIGTERM it
    reads again and gets every line of it, then the ERROR, and words exits 0 quickly."""
    proc, slow, fast = await serve_a_slow_reader(tmp_path, words_process)
    try:
        started = asyncio.get_running_loop().time()
        proc.send_signal(signal.SIGTERM)
        await wait_for_stderr(proc, "shutting down: Server shutting down")  # slow reads only from here
        slow.writer.transport.resume_reading()
        got = []
        while (msg := await slow.read_message(timeout=10)) is not None:
            got.append(msg)
        numbers = [m.params[1].split()[0] for m in got if m.command == "PRIVMSG"]
        assert numbers == [str(i) for i in range(BACKLOG_LINES)]
        assert got[-1].to_line() == "ERROR :Closing Link: 127.0.0.1 (Server shutting down)"
        assert await asyncio.to_thread(proc.wait, 10) == 0
        took = asyncio.get_running_loop().time() - started
        assert took < 5, f"SIGTERM took {took:.1f} s"
    finally:
        await slow.close()
        await fast.close()


async def test_sigterm_cuts_a_client_that_reads_nothing_after_5_seconds(tmp_path, words_process):
    proc, slow, fast = await serve_a_slow_reader(tmp_path, words_process)
    try:
        started = asyncio.get_running_loop().time()
        proc.send_signal(signal.SIGTERM)
        assert (await fast.expect("ERROR")).params == ["Closing Link: 127.0.0.1 (Server shutting down)"]
        assert await asyncio.to_thread(proc.wait, 15) == 0
        took = asyncio.get_running_loop().time() - started
        # It waited for slow (5 s, as for any close), then cut it and went on.
        assert 4.5 < took < 8, f"SIGTERM took {took:.1f} s"
    finally:
        await slow.close()
        await fast.close()
