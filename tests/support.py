"""Test helpers: free ports, waiting on ports, a raw IRC client, running `words`.

Imported by conftest.py and by tests (`from support import ...`). Waits
have deadlines; nothing sleeps to wait for something.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from words.irc.codec import Message, parse_line

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TIMEOUT = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0,
                  proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"process exited with {proc.returncode} before listening")
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")
            time.sleep(0.02)  # polling a port with a deadline, not waiting blindly


class RawClient:
    """An IRC client that speaks raw lines, for tests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received: list[Message] = []
        self.nick: str | None = None

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1", source: str | None = None) -> RawClient:
        """A connection to `host`:`port`, from the local address `source` if given (any
        127.x.y.z is loopback on Linux: a client from another address for limits and bans)."""
        local = (source, 0) if source is not None else None
        reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        return cls(reader, writer)

    async def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode()
        self.writer.write(data + b"\r\n")
        await self.writer.drain()

    async def read_message(self, timeout: float = TIMEOUT) -> Message | None:
        """The next message, or None when the server closed the connection."""
        raw = await asyncio.wait_for(self.reader.readline(), timeout)
        if not raw:
            return None
        msg = parse_line(raw.decode("utf-8", "replace").rstrip("\r\n"))
        self.received.append(msg)
        return msg

    async def expect(self, command: str, *params: str, timeout: float = TIMEOUT) -> Message:
        """Read until a message with this command (and these leading params) arrives."""
        deadline = asyncio.get_running_loop().time() + timeout
        seen = []
        while True:
            left = deadline - asyncio.get_running_loop().time()
            try:
                msg = await self.read_message(max(left, 0.001))
            except asyncio.TimeoutError:
                raise AssertionError(f"no {command} {params} within {timeout}s; got {seen}") from None
            if msg is None:
                raise AssertionError(f"connection closed waiting for {command} {params}; got {seen}")
            seen.append(msg.to_line())
            if msg.command == command and list(msg.params[: len(params)]) == list(params):
                return msg

    async def until_pong(self, token: str = "sync") -> list[Message]:
        """Everything the server sent before it answered a PING: proves what did NOT arrive."""
        start = len(self.received)
        await self.send(f"PING {token}")
        await self.expect("PONG", timeout=TIMEOUT)
        return [m for m in self.received[start:-1]]

    async def register(self, nick: str, password: str | None = None, user: str = "user") -> Message:
        self.nick = nick
        if password is not None:
            await self.send(f"PASS {password}")
        await self.send(f"NICK {nick}")
        await self.send(f"USER {user} 0 * :Real {nick}")
        welcome = await self.expect("001")
        await self.expect("376")
        return welcome

    async def closed(self, timeout: float = TIMEOUT) -> bool:
        """True once the server closed the connection (reads everything before that)."""
        while True:
            msg = await self.read_message(timeout)
            if msg is None:
                return True

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def run_words(*args: str, input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
    """Run the `words` command line as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "words", *args], input=input, capture_output=True,
        text=True, timeout=timeout, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


_apt_updated = False


def ensure_system_package(package: str, binary: str) -> str:
    """The path of `binary`, installing Debian's `package` first when it is missing.

    This is how the README's test command brings the system servers it needs
    (ngIRCd, Prosody, PostgreSQL, Redis): `apt-get update` once, then
    `apt-get install -y`. It needs root, as on CI and the dev machines.
    """
    global _apt_updated
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(f"{binary} is missing; install it with: sudo apt-get install -y {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600,
                       capture_output=True)
        _apt_updated = True
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        check=True, env=env, timeout=900, capture_output=True,
    )
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")
    if not found:
        raise RuntimeError(f"installed {package} but found no {binary}")
    return found


class RecordingMind:
    """A realm mind (ChatClient) that keeps every event it receives, for realm tests."""

    def __init__(self) -> None:
        self.events: list = []

    def receive(self, event):
        self.events.append(("receive", event))

    def user_joined(self, event):
        self.events.append(("user_joined", event))

    def user_left(self, event):
        self.events.append(("user_left", event))

    def user_quit(self, event):
        self.events.append(("user_quit", event))

    def user_renamed(self, event):
        self.events.append(("user_renamed", event))

    def group_meta_update(self, event):
        self.events.append(("group_meta_update", event))

    def group_settings_changed(self, event):
        self.events.append(("group_settings_changed", event))

    def user_kicked(self, event):
        self.events.append(("user_kicked", event))

    def user_invited(self, event):
        self.events.append(("user_invited", event))

    def user_flags_changed(self, event):
        self.events.append(("user_flags_changed", event))

    def wallops(self, event):
        self.events.append(("wallops", event))

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


class PostgresServer:
    def __init__(self, proc: subprocess.Popen, url: str, workdir: Path,
                 command: list[str] | None = None) -> None:
        self.proc = proc
        self.url = url
        self.workdir = workdir
        self.command = command  # how it was started, for resume()

    def halt(self) -> None:
        """Stop the server (fast shutdown: clients are cut), keeping its data for resume()."""
        import signal

        # SIGINT to the postmaster itself: a fast shutdown that cuts the clients (SIGTERM
        # would wait for them to leave, and runuser passes on only that one).
        pid_file = self.workdir / "data" / "postmaster.pid"
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
        self.proc.wait(timeout=20)
        deadline = time.monotonic() + 20
        while pid_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not stop within 20 s")
            time.sleep(0.02)  # polling with a deadline

    def resume(self) -> None:
        """Start the halted server again on the same data and port; returns once it takes logins."""
        assert self.command is not None and self.proc.poll() is not None
        self.proc = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_for_logins(self.url, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb and start a PostgreSQL server as the `postgres` user on a free port."""
    import glob
    import tempfile

    # Not under pytest's tmp_path: that is private to root, and PostgreSQL runs as postgres.
    workdir = Path(tempfile.mkdtemp(prefix="words-postgres-"))

    ensure_system_package("postgresql", "psql")
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError("postgresql is installed but no initdb was found under /usr/lib/postgresql")
    bindir = Path(candidates[-1]).parent
    data, sockets = workdir / "data", workdir / "sockets"
    sockets.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(workdir, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
         "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True, timeout=120,
    )
    port = free_port()
    command = [*run_as, str(bindir / "postgres"), "-D", str(data), "-p", str(port),
               "-c", "listen_addresses=127.0.0.1", "-k", str(sockets), "-c", "fsync=off"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    _wait_for_logins(url, proc)
    return PostgresServer(proc, url, workdir, command)


def _wait_for_logins(url: str, proc: subprocess.Popen) -> None:
    # The port opens a moment before the server accepts logins: retry with a deadline.
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(url).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                detail = proc.stderr.read().decode(errors="replace")[-1000:] if proc.stderr else ""
                raise RuntimeError(f"PostgreSQL did not accept connections within 30 s: {detail}") from None
            time.sleep(0.05)  # polling with a deadline


class RedisServer:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_redis(*options: str) -> RedisServer:
    """A redis-server on a free loopback port that keeps nothing on disk.

    `options` are more of its command line (`"--requirepass", "secret"`).
    """
    binary = ensure_system_package("redis-server", "redis-server")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--protected-mode", "no", "--loglevel", "warning", *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    wait_for_port(port, proc=proc, timeout=30)
    return RedisServer(proc, port)


def fresh_postgres_database(server_url: str) -> str:
    """A new, empty database on the session's PostgreSQL server."""
    import uuid

    import psycopg

    name = "words_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


async def join(client: RawClient, *channels: str) -> None:
    """JOIN each channel in turn, waiting for its end of NAMES."""
    for channel in channels:
        await client.send(f"JOIN {channel}")
        await client.expect("366", client.nick, channel)


async def reply_to(client: RawClient, line: str) -> list[str]:
    """Everything the server answers to `line`, as lines (read up to a PONG)."""
    await client.until_pong()
    await client.send(line)
    return [m.to_line() for m in await client.until_pong()]


async def tell(client: RawClient, text: str, service: str) -> None:
    """Send `text` to a service user (NickServ, ChanServ) as a PRIVMSG."""
    await client.send(f"PRIVMSG {service} :{text}")


async def service_notice(client: RawClient, contains: str, service: str) -> str:
    """Read until a NOTICE from `service` containing `contains`; returns its text."""
    seen = []
    while True:
        msg = await client.expect("NOTICE")
        seen.append(msg.params[-1])
        if msg.source and msg.source.startswith(service + "!") and contains in msg.params[-1]:
            return msg.params[-1]
        if len(seen) > 50:
            raise AssertionError(f"no notice with {contains!r}: {seen}")


async def wait_until(predicate, what: str, timeout: float = 10.0) -> None:
    """Wait, with a deadline, for in-process state that has no event to await."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {what}")
        await asyncio.sleep(0.005)
