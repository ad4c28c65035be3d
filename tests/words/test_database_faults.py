"""The database goes away while words runs: chat goes on, what needs the database fails
clearly, nothing stored is lost, and words recovers on its own when the database is back.

SQLite: the database file (and its WAL) is made immutable with `chattr +i`,
which stops even root from writing it (tests run as root; chmod would not).
Never the -shm file: SQLite maps it, and a write to an immutable mapping is
SIGBUS. PostgreSQL: a real server is stopped and started on the same data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    RawClient,
    free_port,
    fresh_postgres_database,
    join,
    service_notice,
    start_postgres,
    tell,
    wait_until,
)

from words.config import Services
from words.realm.sql import SQLWordsRealm

DB_AWAY_NOTICE = ("That needs the database, which is unavailable right now; nothing was changed. "
                  "Try again later.")
REGISTER_FAILED = ":irc.test FAIL REGISTER TEMPORARILY_UNAVAILABLE {} :Accounts are unavailable right now, try later"


@contextlib.contextmanager
def unwritable(db: Path) -> Iterator[None]:
    """The SQLite file and its WAL cannot be written, even by root, inside the block."""
    files = [path for path in (db, Path(f"{db}-wal")) if path.exists()]
    made: list[Path] = []
    try:
        for path in files:
            if subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True).returncode != 0:
                if os.geteuid() == 0:
                    pytest.skip("chattr +i does not work here, and root ignores chmod")
                path.chmod(0o444)
            made.append(path)
        yield
    finally:
        for path in made:
            subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
            path.chmod(0o644)


def serve_config(path: Path, url: str, extra: str = "") -> str:
    """Write a `words serve` config on the database at `url` (plus `extra` lines) to `path`."""
    path.write_text(textwrap.dedent(f"""
        server: {{name: irc.test}}
        realm: {{database: '{url}'}}
        hashing: {{ln: 4}}
        limits: {{flood_burst: 100000, flood_rate: 100000}}
        services: {{enforce_nicks: false}}
    """) + extra)
    return str(path)


async def registered(port: int, nick: str, password: str | None = None) -> RawClient:
    client = await RawClient.connect(port)
    await client.register(nick, password)
    return client


async def account_register(client: RawClient, password: str) -> str:
    """REGISTER * * password; the SUCCESS or FAIL line."""
    await client.send(f"REGISTER * * {password}")
    while True:
        msg = await client.read_message()
        assert msg is not None, "connection closed"
        if msg.command in ("REGISTER", "FAIL"):
            return msg.to_line()


# -- SQLite ------------------------------------------------------------------------------


async def test_sqlite_made_unwritable_and_writable_again(start_server, tmp_path):
    db = tmp_path / "words.db"
    server = await start_server(database=f"sqlite:///{db}", services=Services(enforce_nicks=False))
    realm = server.realm
    alice = await registered(server.port, "alice")
    bob = carol = None
    try:
        assert await account_register(alice, "alice-password") == (
            ":irc.test REGISTER SUCCESS alice :Account created")
        await join(alice, "#keep")
        await tell(alice, "REGISTER #keep", "ChanServ")
        await service_notice(alice, "is now registered", "ChanServ")
        assert await realm.flush(timeout=5)

        with unwritable(db):
            # Chat goes on.
            bob = await registered(server.port, "bob")
            await join(bob, "#keep")
            await alice.send("PRIVMSG #keep :can you hear me")
            assert (await bob.expect("PRIVMSG", "#keep")).params[1] == "can you hear me"
            # What needs the database fails, with a clear message.
            assert await account_register(bob, "bob-password") == REGISTER_FAILED.format("bob")
            carol = await registered(server.port, "carol")
            await tell(carol, "REGISTER carol-password", "NickServ")
            assert await service_notice(carol, "database", "NickServ") == DB_AWAY_NOTICE
            await tell(alice, "SET PASSWORD another-password", "NickServ")
            assert await service_notice(alice, "database", "NickServ") == DB_AWAY_NOTICE
            await join(alice, "#other")
            await tell(alice, "REGISTER #other", "ChanServ")
            assert await service_notice(alice, "could not", "ChanServ") == (
                "#other could not be registered: the database is unavailable right now; try again later.")
            # A change to a registered channel waits in memory and is retried.
            await alice.send("TOPIC #keep :set while the database was away")
            await alice.expect("TOPIC")
            await wait_until(lambda: realm.pending_writes >= 1, "the topic change queued")
            assert not realm.db.available
            assert not await realm.flush(timeout=0.3)
            assert realm.pending_writes >= 1  # still there: never dropped

        # Back: the queue drains by itself and registrations work again.
        assert await realm.flush(timeout=10)
        assert realm.db.available
        assert await account_register(bob, "bob-password") == ":irc.test REGISTER SUCCESS bob :Account created"
    finally:
        for client in (alice, bob, carol):
            if client is not None:
                await client.close()

    # What the file holds, read afresh.
    await server.stop()
    await realm.close()
    again = SQLWordsRealm("irc.test", f"sqlite:///{db}", create_group_on_request=True)
    await again.open()
    try:
        assert [a.name for a in await again.accounts.all()] == ["alice", "bob"]
        assert again.find_group("#keep").topic == "set while the database was away"
        assert again.find_group("#other") is None
        old = await again.accounts.get("alice")
        assert old is not None and old.password_hash == realm_hash(old)
    finally:
        await again.close()


async def test_sqlite_file_replaced_and_put_back(start_server, tmp_path):
    db = tmp_path / "words.db"
    server = await start_server(database=f"sqlite:///{db}", services=Services(enforce_nicks=False))
    realm = server.realm
    alice = await registered(server.port, "alice")
    bob = await registered(server.port, "bob")
    try:
        assert (await account_register(alice, "alice-password")).endswith("Account created")
        await join(alice, "#keep")
        await tell(alice, "REGISTER #keep", "ChanServ")
        await service_notice(alice, "is now registered", "ChanServ")
        assert await realm.flush(timeout=5)

        # The file is moved aside (with its WAL) and something else is put in its place.
        aside = tmp_path / "aside"
        aside.mkdir()
        moved = [name for name in ("words.db", "words.db-wal", "words.db-shm") if (tmp_path / name).exists()]
        for name in moved:
            (tmp_path / name).rename(aside / name)
        db.write_bytes(b"this is not a database\n" * 100)
        assert await account_register(bob, "bob-password") == REGISTER_FAILED.format("bob")
        await alice.send("TOPIC #keep :set while the file was away")
        await alice.expect("TOPIC")
        assert not await realm.flush(timeout=0.3)

        # Put back: words notices the file changed, reopens it, and stores what waited.
        db.unlink()
        for name in moved:
            if (aside / name).exists():
                (aside / name).rename(tmp_path / name)
        assert await realm.flush(timeout=10)
        assert await account_register(bob, "bob-password") == ":irc.test REGISTER SUCCESS bob :Account created"
    finally:
        await alice.close()
        await bob.close()
    await server.stop()
    await realm.close()
    again = SQLWordsRealm("irc.test", f"sqlite:///{db}", create_group_on_request=True)
    await again.open()
    try:
        assert [a.name for a in await again.accounts.all()] == ["alice", "bob"]
        assert again.find_group("#keep").topic == "set while the file was away"
    finally:
        await again.close()


def realm_hash(account) -> str:
    """The password hash is the one set at registration: the failed SET PASSWORD changed nothing."""
    from words.cred import PasswordHasher

    assert PasswordHasher.from_config({"ln": 4}).verify("alice-password", account.password_hash)
    return account.password_hash


async def test_a_pass_login_while_the_database_is_away_is_told_so(start_server, tmp_path, monkeypatch):
    db = tmp_path / "words.db"
    server = await start_server(database=f"sqlite:///{db}", services=Services(enforce_nicks=False))
    alice = await registered(server.port, "alice")
    assert (await account_register(alice, "alice-password")).endswith("Account created")
    await alice.close()
    # Reads work on an immutable file; a server that is gone is another matter: the
    # engine's connections are refused while the file is away.
    from words.store.database import StoreError

    async def away(*args, **kwargs):
        raise StoreError("database error while reading an account: OperationalError", transient=True)

    monkeypatch.setattr(server.realm.accounts, "get", away)
    client = await RawClient.connect(server.port)
    try:
        await client.send("PASS alice:alice-password")
        await client.send("NICK alice")
        await client.send("USER u 0 * :Alice")
        notice = await client.expect("NOTICE")
        assert notice.params[1] == ("*** Accounts are unavailable right now (the database is down); "
                                    "try again later, or connect without a password")
        error = await client.expect("ERROR")
        assert error.params == ["Closing Link: 127.0.0.1 (Accounts unavailable, try again later)"]
    finally:
        await client.close()


# -- PostgreSQL, stopped and started under a running `words serve` -------------------------


@pytest.fixture
def own_postgres():
    """A PostgreSQL server of this test's own: the test stops and starts it."""
    server = start_postgres()
    yield server
    if server.proc.poll() is not None:
        with contextlib.suppress(RuntimeError):  # a failed resume still leaves files to remove
            server.resume()
    server.stop()


async def test_postgresql_stopped_and_started(tmp_path, words_process, own_postgres):
    url = fresh_postgres_database(own_postgres.url)
    config = tmp_path / "words.yaml"
    port = free_port()
    proc = words_process("--config", serve_config(config, url), port=port)
    alice = await registered(port, "alice")
    bob = await registered(port, "bob")
    try:
        assert (await account_register(alice, "alice-password")).endswith("Account created")
        await join(alice, "#room")
        await join(bob, "#room")
        await tell(alice, "REGISTER #room", "ChanServ")
        await service_notice(alice, "is now registered", "ChanServ")

        await asyncio.to_thread(own_postgres.halt)
        # Chat goes on.
        await alice.send("PRIVMSG #room :is the database down?")
        assert (await bob.expect("PRIVMSG", "#room")).params[1] == "is the database down?"
        # Registering fails with a clear message.
        assert await account_register(bob, "bob-password") == REGISTER_FAILED.format("bob")
        carol = await registered(port, "carol")
        await tell(carol, "REGISTER carol-password", "NickServ")
        assert await service_notice(carol, "database", "NickServ") == DB_AWAY_NOTICE
        await carol.close()
        # A change to the registered channel waits for the database.
        await alice.send("TOPIC #room :topic of the outage")
        await bob.expect("TOPIC", "#room")

        await asyncio.to_thread(own_postgres.resume)
        assert await account_register(bob, "bob-password") == ":irc.test REGISTER SUCCESS bob :Account created"
    finally:
        await alice.close()
        await bob.close()

    proc.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.to_thread(proc.communicate, timeout=20)
    assert proc.returncode == 0
    assert "the database is unavailable; changes wait in memory and are retried" in stderr
    assert "the database is back" in stderr

    # Restarted: every account and the topic set during the outage are there.
    port = free_port()
    words_process("--config", str(config), port=port)
    for nick in ("alice", "bob"):
        client = await RawClient.connect(port)
        try:
            await client.register(nick, password=f"{nick}:{nick}-password")
            await client.send(f"WHOIS {nick}")
            logged_in = await client.expect("330")
            assert logged_in.params[1:3] == [nick, nick]
            await client.send("TOPIC #room")
            assert (await client.expect("332")).params[2] == "topic of the outage"
        finally:
            await client.close()


async def test_sigterm_while_the_database_is_away_exits_quickly(tmp_path, words_process):
    db = tmp_path / "words.db"
    config = tmp_path / "words.yaml"
    port = free_port()
    proc = words_process("--config", serve_config(config, f"sqlite:///{db}"), port=port)
    alice = await registered(port, "alice")
    try:
        assert (await account_register(alice, "alice-password")).endswith("Account created")
        await join(alice, "#room")
        await tell(alice, "REGISTER #room", "ChanServ")
        await service_notice(alice, "is now registered", "ChanServ")
        with unwritable(db):
            await alice.send("TOPIC #room :never stored")
            await alice.expect("TOPIC")
            await alice.send("PING :sync")  # the topic change is queued by now
            await alice.expect("PONG")
            started = asyncio.get_running_loop().time()
            proc.send_signal(signal.SIGTERM)
            error = await alice.expect("ERROR", timeout=10)
            assert error.params == ["Closing Link: 127.0.0.1 (Server shutting down)"]
            _, stderr = await asyncio.to_thread(proc.communicate, timeout=20)
            took = asyncio.get_running_loop().time() - started
        assert proc.returncode == 0
        assert took < 9, f"SIGTERM took {took:.1f} s with the database away"
        assert "closing with 1 changes not stored: the database is unavailable" in stderr
    finally:
        await alice.close()


# -- what a failed write logs --------------------------------------------------------------

# Never in a log line: what the failing statements carried.
SECRET_PASSWORDS = ("AliceFirst-1a", "AliceNewer-2b", "BobSecret-3c")
SECRET_TEXTS = ("channel words nobody logs", "private words nobody logs")


def break_database(db: Path, how: str) -> contextlib.AbstractContextManager:
    """The SQLite file made unwritable, or its account and history tables dropped under words."""
    if how == "unwritable":
        return unwritable(db)
    import sqlite3

    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        for table in ("account_jids", "account_certs", "accounts", "history"):
            conn.execute(f"DROP TABLE {table}")
    return contextlib.nullcontext()


@pytest.mark.parametrize("how", ["unwritable", "tables dropped"])
async def test_a_failed_write_logs_no_hash_verifier_password_or_message(tmp_path, words_process, how):
    db = tmp_path / "words.db"
    config = tmp_path / "words.yaml"
    port = free_port()
    proc = words_process("--config", serve_config(
        config, f"sqlite:///{db}", "scram: true\nlog_format: json\nlog_level: debug\n"), port=port)
    stderr_read = asyncio.ensure_future(asyncio.to_thread(proc.stderr.read))  # no full pipe
    alice = await registered(port, "alice")
    bob = await registered(port, "bob")
    try:
        assert (await account_register(alice, SECRET_PASSWORDS[0])).endswith("Account created")
        await join(alice, "#room")
        await join(bob, "#room")
        with break_database(db, how):
            assert await account_register(bob, SECRET_PASSWORDS[2]) == REGISTER_FAILED.format("bob")
            await tell(alice, f"SET PASSWORD {SECRET_PASSWORDS[1]}", "NickServ")
            assert await service_notice(alice, "database", "NickServ") == DB_AWAY_NOTICE
            await alice.send(f"PRIVMSG #room :{SECRET_TEXTS[0]}")
            await alice.send(f"PRIVMSG bob :{SECRET_TEXTS[1]}")
            assert (await bob.expect("PRIVMSG", "#room")).params[1] == SECRET_TEXTS[0]
            assert (await bob.expect("PRIVMSG", "bob")).params[1] == SECRET_TEXTS[1]
            # The history records are written (and fail) now, and again at shutdown.
            proc.send_signal(signal.SIGTERM)
            assert await bob.closed(timeout=15)
            await asyncio.to_thread(proc.wait, 20)
    finally:
        await alice.close()
        await bob.close()
    stderr = await stderr_read
    assert proc.returncode == 0, stderr[-2000:]
    messages = [json.loads(line)["message"] for line in stderr.splitlines()]
    # Each failure is logged, with what was being done and why...
    for doing in ("account bob", "changing the password of alice", "history records"):
        assert any(m.startswith("database error while ") and doing in m for m in messages), (doing, messages)
    # ...but not what the statements carried.
    for secret in ("$scrypt$", "SCRAM-SHA-256$", "[parameters", *SECRET_PASSWORDS, *SECRET_TEXTS):
        assert secret not in stderr, (secret, [m for m in messages if secret in m])


def test_a_refused_postgresql_row_is_not_logged(postgres_url, caplog):
    """PostgreSQL's DETAIL ("Failing row contains (...)") holds the row: it is never logged,
    nor is it in the traceback of the StoreError (what a failed REGISTER logs)."""
    import traceback

    from sqlalchemy import insert

    from words.store import Database, StoreError, check_schema, schema

    db = Database(fresh_postgres_database(postgres_url))
    try:
        check_schema(db)
        row = {"name": "bob", "folded": "bob", "password_hash": "$scrypt$ln=4,r=8,p=1$c2FsdA$aGFzaA",
               "created": None, "scram": "SCRAM-SHA-256$4096:c2FsdA==$a2V5:a2V5"}
        with pytest.raises(StoreError) as raised:
            db.run_sync(lambda conn: conn.execute(insert(schema.accounts).values(**row)), "creating account bob")
    finally:
        db.close()
    assert not raised.value.transient  # a refusal, not an outage
    logged = [r.getMessage() for r in caplog.records if r.name == "words.store"]
    assert logged == [('database error while creating account bob: NotNullViolation: null value in column '
                       '"created" of relation "accounts" violates not-null constraint')]
    shown = "".join(traceback.format_exception(raised.value))
    for secret in (row["password_hash"], row["scram"], "Failing row"):
        assert secret not in caplog.text and secret not in shown


# -- K-lines and D-lines set and lifted while the database is away -------------------------


@contextlib.asynccontextmanager
async def database_away(backend: str, db: Path, postgres):
    """The SQLite file made unwritable, or the PostgreSQL server stopped, inside the block."""
    if backend == "sqlite":
        with unwritable(db):
            yield
        return
    await asyncio.to_thread(postgres.halt)
    try:
        yield
    finally:
        await asyncio.to_thread(postgres.resume)


async def oper_notice(client: RawClient, line: str) -> str:
    await client.send(line)
    return (await client.expect("NOTICE")).params[-1]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_bans_changed_while_the_database_is_away_are_stored_when_it_is_back(
        start_server, tmp_path, request, caplog, backend):
    from words.config import Oper
    from words.cred import PasswordHasher

    db, postgres = tmp_path / "words.db", None
    if backend == "sqlite":
        url = f"sqlite:///{db}"
    else:
        postgres = request.getfixturevalue("own_postgres")
        url = fresh_postgres_database(postgres.url)
    opers = (Oper("root", PasswordHasher.from_config({"ln": 4}).hash("sesame"), hosts=("*@127.0.0.1",)),)
    server = await start_server(opers=opers, database=url)
    boss = await registered(server.port, "boss")
    try:
        await boss.send("OPER root sesame")
        await boss.expect("381")
        assert await oper_notice(boss, "KLINE *@127.0.0.7 :lifted in the outage") == (
            "*** K-line added for *@127.0.0.7 permanently: lifted in the outage")
        assert await server.realm.flush(timeout=5)
        caplog.set_level("INFO", logger="words.irc")

        async with database_away(backend, db, postgres):
            assert await oper_notice(boss, "KLINE 1d ~bob@127.0.0.4 :set in the outage") == (
                "*** K-line added for ~bob@127.0.0.4 for 1d: set in the outage (in force now; the "
                "database is unavailable, so it is stored when it is back, unless the server stops first)")
            assert await oper_notice(boss, "DLINE 127.0.0.6 :no") == (
                "*** D-line added for 127.0.0.6 permanently: no (in force now; the database is "
                "unavailable, so it is stored when it is back, unless the server stops first)")
            assert await oper_notice(boss, "UNKLINE *@127.0.0.7") == (
                "*** K-line for *@127.0.0.7 removed (lifted now; the database is unavailable, so the "
                "removal is stored when it is back, unless the server stops first)")
            # In force at once.
            refused = RawClient(*await asyncio.open_connection("127.0.0.1", server.port,
                                                                local_addr=("127.0.0.6", 0)))
            assert (await refused.expect("ERROR")).params[0].endswith("(D-lined: no)")
            await refused.close()
            assert server.realm.pending_writes >= 3
            assert not await server.realm.flush(timeout=0.3)

        assert await server.realm.flush(timeout=15)
    finally:
        await boss.close()
    assert "the K-line ~bob@127.0.0.4 waits for the database" in caplog.text
    assert "the removal of the K-line *@127.0.0.7 is stored now" in caplog.text
    await server.stop()
    await server.realm.close()

    again = await start_server(opers=opers, database=url)
    assert [b.mask for b in again.bans.active("k")] == ["~bob@127.0.0.4"]
    assert [b.mask for b in again.bans.active("d")] == ["127.0.0.6"]
