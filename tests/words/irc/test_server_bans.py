"""K-lines and D-lines over real sockets: oper commands, enforcement, STATS, persistence."""

from __future__ import annotations

import time

import pytest
from support import RawClient

from words.config import Oper
from words.cred import PasswordHasher
from words.irc.serverbans import ServerBan, ServerBans, format_duration, parse_duration

ROOT_HASH = PasswordHasher.from_config({"ln": 4}).hash("sesame")
OPERS = (Oper("root", ROOT_HASH, hosts=("*@127.0.0.1",)),)


@pytest.fixture
async def server(start_server):
    return await start_server(opers=OPERS)


async def oper(port: int) -> RawClient:
    client = await RawClient.connect(port)
    await client.register("boss")
    await client.send("OPER root sesame")
    await client.expect("381")
    return client


async def notice(client: RawClient, contains: str) -> str:
    while True:
        msg = await client.expect("NOTICE")
        if contains in msg.params[-1]:
            return msg.params[-1]


def test_durations():
    assert parse_duration("10m") == 600
    assert parse_duration("2h") == 7200
    assert parse_duration("1d") == 86400
    assert parse_duration("1h30m") == 5400
    assert parse_duration("5") == 300  # a bare number is minutes, as ircds
    assert parse_duration("bob@host") is None
    assert parse_duration("0") is None
    assert format_duration(5400) == "1h30m"


def test_expired_bans_are_ignored():
    bans = ServerBans()
    now = time.time()
    bans._put(ServerBan("d", "10.0.0.0/8", "old", "x", now - 100, now - 1))
    bans._put(ServerBan("k", "*@10.1.2.3", "new", "x", now, now + 60))
    assert bans.find_dline("10.1.2.3") is None
    assert bans.find_kline("~u", ["10.1.2.3"]).reason == "new"
    assert [b.mask for b in bans.active("d")] == []


async def test_kline_needs_an_oper(server):
    client = await RawClient.connect(server.port)
    await client.register("alice")
    for line in ("KLINE *@10.0.0.1 :x", "UNKLINE *@10.0.0.1", "DLINE 10.0.0.1 :x", "UNDLINE 10.0.0.1",
                 "STATS k", "STATS d"):
        await client.send(line)
        await client.expect("481", "alice")
    assert server.bans.active("k") == [] and server.bans.active("d") == []
    await client.close()


async def test_kline_disconnects_at_once_and_at_registration(server, caplog):
    boss = await oper(server.port)
    bob = await RawClient.connect(server.port, source="127.0.0.2")
    await bob.register("bob", user="bob")
    carol = await RawClient.connect(server.port, source="127.0.0.2")
    await carol.register("carol", user="carol")
    caplog.set_level("INFO", logger="words.irc")
    await boss.send("KLINE 2h ~bob@127.0.0.2 :spamming")
    assert "for 2h: spamming" in await notice(boss, "K-line added for ~bob@127.0.0.2")
    error = await bob.expect("ERROR")
    assert "K-lined: spamming" in error.params[0]
    assert await bob.closed()
    assert "K-line ~bob@127.0.0.2 for 2h by boss (oper root): spamming" in caplog.text
    # carol is another user@host: still here.
    await carol.until_pong()
    again = await RawClient.connect(server.port, source="127.0.0.2")
    await again.send("NICK bob2")
    await again.send("USER bob 0 * :Bob")
    assert "K-lined: spamming" in (await again.expect("ERROR")).params[0]
    assert await again.closed()
    assert not [m for m in again.received if m.command == "001"]

    await boss.send("STATS k")
    line = await boss.expect("216", "boss")
    assert line.params[1:5] == ["K", "127.0.0.2", "*", "~bob"]
    assert line.params[5].startswith("spamming (expires in 1h59m")
    await boss.expect("219", "boss", "k")

    await boss.send("UNKLINE ~bob@127.0.0.2")
    await notice(boss, "K-line for ~bob@127.0.0.2 removed")
    back = await RawClient.connect(server.port, source="127.0.0.2")
    await back.register("bob", user="bob")
    await boss.send("UNKLINE ~bob@127.0.0.2")
    await notice(boss, "No K-line for ~bob@127.0.0.2")
    for client in (boss, bob, carol, again, back):
        await client.close()


async def test_dline_refuses_connections_and_disconnects_matching_users(server, caplog):
    boss = await oper(server.port)
    bob = await RawClient.connect(server.port, source="127.0.0.3")
    await bob.register("bob")
    waiting = await RawClient.connect(server.port, source="127.0.0.3")  # not registered yet
    await waiting.send("NICK half")
    caplog.set_level("INFO", logger="words.irc")
    await boss.send("DLINE 127.0.0.0/30 :a bad network")
    await notice(boss, "D-line added for 127.0.0.0/30 permanently: a bad network")
    for client in (bob, waiting):
        assert "D-lined: a bad network" in (await client.expect("ERROR")).params[0]
        assert await client.closed()
    assert "D-line 127.0.0.0/30 permanently by boss (oper root): a bad network" in caplog.text
    # The oper's own 127.0.0.1 matches too: warned, kept.
    await boss.until_pong()
    refused = await RawClient.connect(server.port, source="127.0.0.3")
    error = await refused.expect("ERROR")
    assert "D-lined: a bad network" in error.params[0]
    assert await refused.closed()
    outside = await RawClient.connect(server.port, source="127.0.0.9")
    await outside.register("dave")

    await boss.send("STATS d")
    line = await boss.expect("225", "boss")
    assert line.params[1] == "127.0.0.0/30"
    assert line.params[2].startswith("a bad network (permanent; set by boss (oper root)")
    await boss.send("UNDLINE 127.0.0.0/30")
    await notice(boss, "D-line for 127.0.0.0/30 removed")
    back = await RawClient.connect(server.port, source="127.0.0.3")
    await back.register("bob")
    for client in (boss, bob, waiting, refused, outside, back):
        await client.close()


async def test_kline_and_dline_by_nick_and_bad_masks(server):
    boss = await oper(server.port)
    eve = await RawClient.connect(server.port, source="127.0.0.5")
    await eve.register("eve")
    await boss.send("DLINE 10m eve :go away")
    await notice(boss, "D-line added for 127.0.0.5 for 10m: go away")
    assert await eve.closed()
    await boss.send("DLINE not-an-address :x")
    await notice(boss, "neither an address")
    await boss.send("KLINE nobody-here")
    await notice(boss, "neither user@host")
    await boss.close()
    await eve.close()


async def test_bans_last_across_a_sqlite_restart(start_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'words.db'}"
    first = await start_server(opers=OPERS, database=url)
    boss = await oper(first.port)
    await boss.send("KLINE 1d ~bob@127.0.0.4 :still banned")
    await notice(boss, "K-line added")
    await boss.send("DLINE 127.0.0.6 :no")
    await notice(boss, "D-line added")
    await boss.send("KLINE *@127.0.0.7 :lifted")
    await notice(boss, "K-line added")
    await boss.send("UNKLINE *@127.0.0.7")
    await notice(boss, "removed")
    # An expired one in the table is not loaded.
    now = time.time()
    await first.realm.server_ban_store.save(ServerBan("k", "*@127.0.0.8", "old", "x", now - 60, now - 1))
    await boss.close()
    await first.stop()
    await first.realm.close()

    second = await start_server(opers=OPERS, database=url)
    assert [b.mask for b in second.bans.active("k")] == ["~bob@127.0.0.4"]
    assert [b.mask for b in second.bans.active("d")] == ["127.0.0.6"]
    refused = await RawClient.connect(second.port, source="127.0.0.6")
    assert "D-lined: no" in (await refused.expect("ERROR")).params[0]
    bob = await RawClient.connect(second.port, source="127.0.0.4")
    await bob.send("NICK bob")
    await bob.send("USER bob 0 * :Bob")
    assert "K-lined: still banned" in (await bob.expect("ERROR")).params[0]
    welcome = await RawClient.connect(second.port, source="127.0.0.8")
    await welcome.register("old")
    for client in (refused, bob, welcome):
        await client.close()


def test_a_version_1_database_gains_the_server_bans_table(tmp_path):
    from sqlalchemy import inspect, text

    from words.store import Database, check_schema, schema
    from words.store.migrations import SCHEMA_VERSION, STEPS, current_version

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        def as_released_v1(conn):
            schema.metadata.create_all(conn, tables=[schema.schema_version])
            STEPS[0](conn)
            conn.execute(text("INSERT INTO accounts (name, folded, password_hash, created) "
                              "VALUES ('kept', 'kept', 'x', 0)"))
            conn.execute(schema.schema_version.insert().values(version=1))

        db.run_sync(as_released_v1, "test")
        check_schema(db)
        assert current_version(db) == SCHEMA_VERSION >= 2
        assert db.run_sync(lambda c: inspect(c).has_table("server_bans"), "test")
        assert db.run_sync(lambda c: c.execute(text("SELECT name FROM accounts")).scalar(), "t") == "kept"
    finally:
        db.close()
