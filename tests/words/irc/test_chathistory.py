"""CHATHISTORY, draft/event-playback and history replay on JOIN, over real sockets: the
exact lines each client gets, on the memory realm and on SQLite (with restarts)."""

from __future__ import annotations

import re
import signal
import time
from dataclasses import replace

import pytest
from support import RawClient, free_port, fresh_postgres_database, join, wait_until

from words.config import HistoryConfig
from words.irc.tags import server_time

HOST = "127.0.0.1"
FULL = "batch server-time message-tags draft/chathistory"


def prefix(nick: str) -> str:
    return f"{nick}!~user@{HOST}"


async def negotiate(client: RawClient, nick: str, caps: str, password: str | None = None) -> None:
    client.nick = nick
    await client.send("CAP LS 302")
    await client.expect("CAP", "*", "LS")
    if caps:
        await client.send(f"CAP REQ :{caps}")
        await client.expect("CAP", "*", "ACK", caps)
    if password is not None:
        await client.send(f"PASS {password}")
    await client.send(f"NICK {nick}")
    await client.send(f"USER user 0 * :Real {nick}")
    await client.send("CAP END")
    await client.expect("001", nick)
    await client.expect("376", nick)


@pytest.fixture
async def opened():
    """`await opened(server, "alice", caps, *channels)`: a registered client with those caps."""
    clients: list[RawClient] = []

    async def open_(server, nick: str, caps: str = "", *channels: str,
                    password: str | None = None) -> RawClient:
        client = await RawClient.connect(server.port)
        clients.append(client)
        await negotiate(client, nick, caps, password)
        await join(client, *channels)
        return client

    yield open_
    for client in clients:
        await client.close()


async def answer(client: RawClient, line: str) -> list[str]:
    """Everything the server answers to `line` (up to a PONG sent right after it)."""
    await client.until_pong()
    await client.send(line)
    return [m.to_line() for m in await client.until_pong()]


async def said(sender: RawClient, receiver: RawClient, lines: list[str]) -> list[str]:
    """Send each PRIVMSG of `lines`; the lines `receiver` got for them, tags included."""
    for line in lines:
        await sender.send(line)
    return [(await receiver.expect("PRIVMSG")).to_line() for _ in lines]


def untagged(line: str) -> str:
    return re.sub(r"^@[^ ]+ ", "", line)


def batched(lines: list[str]) -> tuple[str, list[str]]:
    """(reference, body) of a reply that is one batch; asserts its frame."""
    start, *body, end = lines
    match = re.fullmatch(r":irc\.test BATCH \+(\S+) (\S+)(?: (\S+))?", start)
    assert match, start
    ref = match.group(1)
    assert end == f":irc.test BATCH -{ref}"
    return ref, body


def unbatched(ref: str, body: list[str]) -> list[str]:
    """The body lines without their `batch=ref` tag, to compare with what was relayed live."""
    out = []
    for line in body:
        assert line.startswith(f"@batch={ref}"), line
        rest = line[len(f"@batch={ref}"):]
        out.append("@" + rest[1:] if rest.startswith(";") else rest[1:])
    return out


def msgid(line: str) -> str:
    return re.search(r"msgid=([^; ]+)", line).group(1)


def stamp(line: str) -> str:
    return re.search(r"time=([^; ]+)", line).group(1)


@pytest.fixture(params=["memory", "sqlite"])
async def chat(request, start_server, opened, tmp_path):
    """A server with history (memory realm, or SQL on SQLite); alice (full caps) says m0..m9
    in #a, bob (full caps) hears it.

    m5..m9 are said in a later millisecond than m0..m4, so timestamps split them.
    """
    server = await start_server(**backend_options(request.param, tmp_path))
    alice = await opened(server, "alice", FULL, "#a")
    bob = await opened(server, "bob", FULL, "#a")
    await alice.until_pong()
    live = await said(alice, bob, [f"PRIVMSG #a :m{i}" for i in range(5)])
    # The server runs in this process: its clock is this one.
    await wait_until(lambda: server_time(time.time()) > stamp(live[-1]), "the next millisecond")
    live += await said(alice, bob, [f"PRIVMSG #a :m{i}" for i in range(5, 10)])
    await alice.until_pong()
    assert stamp(live[4]) < stamp(live[5])
    return server, alice, bob, live


def backend_options(backend: str, tmp_path) -> dict:
    """start_server options for a realm: "memory", or "sqlite" (the SQL realm on a file)."""
    return {"database": f"sqlite:///{tmp_path / 'words.db'}"} if backend == "sqlite" else {}


# -- offer -------------------------------------------------------------------------------------


async def test_caps_and_isupport_when_history_is_on(start_server, opened):
    server = await start_server()
    client = await RawClient.connect(server.port)
    await client.send("CAP LS 302")
    offered = (await client.expect("CAP", "*", "LS")).params[-1].split()
    assert "draft/chathistory" in offered and "draft/event-playback" in offered
    await client.close()
    alice = await opened(server, "alice")
    tokens = [t for m in alice.received if m.command == "005" for t in m.params[1:-1]]
    assert "CHATHISTORY=100" in tokens and "MSGREFTYPES=msgid,timestamp" in tokens


async def test_nothing_is_offered_or_kept_when_history_is_off(start_server, opened):
    server = await start_server(history=HistoryConfig(enabled=False))
    assert server.realm.history is None
    client = await RawClient.connect(server.port)
    await client.send("CAP LS 302")
    offered = (await client.expect("CAP", "*", "LS")).params[-1].split()
    assert "draft/chathistory" not in offered and "draft/event-playback" not in offered
    await client.close()
    alice = await opened(server, "alice")
    tokens = [t for m in alice.received if m.command == "005" for t in m.params[1:-1]]
    assert not [t for t in tokens if t.startswith(("CHATHISTORY", "MSGREFTYPES"))]
    assert await answer(alice, "CHATHISTORY LATEST #a * 10") == [
        ":irc.test 421 alice CHATHISTORY :Unknown command"]


# -- the subcommands ----------------------------------------------------------------------------


async def test_latest_star_gives_the_messages_as_relayed_in_a_chathistory_batch(chat):
    _, _alice, bob, live = chat
    got = await answer(bob, "CHATHISTORY LATEST #a * 3")
    ref, body = batched(got)
    assert got[0] == f":irc.test BATCH +{ref} chathistory #a"
    # The same msgid and time as relayed, and only the messages (no JOIN without event-playback).
    assert unbatched(ref, body) == live[-3:]
    assert live[-1] == f"@time={stamp(live[-1])};msgid={msgid(live[-1])} :{prefix('alice')} PRIVMSG #a m9"


async def test_latest_after_a_msgid_and_a_timestamp(chat):
    _, _, bob, live = chat
    ref, body = batched(await answer(bob, f"CHATHISTORY LATEST #a msgid={msgid(live[6])} 10"))
    assert unbatched(ref, body) == live[7:]
    # A timestamp has milliseconds: after it means from the next millisecond on.
    ref, body = batched(await answer(bob, f"CHATHISTORY LATEST #a timestamp={stamp(live[0])} 10"))
    later = [line for line in live if stamp(line) > stamp(live[0])]
    assert live[5:] == later[-5:]  # m5..m9 at least (the fixture's later millisecond)
    assert unbatched(ref, body) == later


async def test_before_after_around_between(chat):
    _, _, bob, live = chat
    at = f"msgid={msgid(live[5])}"
    for line, expected in [
        (f"CHATHISTORY BEFORE #a {at} 3", live[2:5]),
        (f"CHATHISTORY AFTER #a {at} 3", live[6:9]),
        (f"CHATHISTORY AROUND #a {at} 4", live[3:7]),
        (f"CHATHISTORY BETWEEN #a msgid={msgid(live[1])} msgid={msgid(live[6])} 3", live[2:5]),
        # Backwards: counted from the first reference.
        (f"CHATHISTORY BETWEEN #a msgid={msgid(live[6])} msgid={msgid(live[1])} 3", live[3:6]),
        (f"CHATHISTORY BETWEEN #a msgid={msgid(live[1])} msgid={msgid(live[6])} 50", live[2:6]),
        # Lower-case subcommands are fine; an unknown msgid gives an empty batch.
        (f"chathistory before #a {at} 2", live[3:5]),
        ("CHATHISTORY BEFORE #a msgid=nosuchid 3", []),
    ]:
        ref, body = batched(await answer(bob, line))
        assert unbatched(ref, body) == expected, line


async def test_timestamps_select_by_time(chat):
    _, _, bob, live = chat
    first, last = stamp(live[0]), stamp(live[-1])
    ref, body = batched(await answer(bob, f"CHATHISTORY BEFORE #a timestamp={last} 100"))
    earlier = [line for line in live if stamp(line) < last]
    assert earlier[:5] == live[:5]  # m0..m4 at least (the fixture's earlier millisecond)
    assert unbatched(ref, body) == earlier
    ref, body = batched(await answer(bob, f"CHATHISTORY AFTER #a timestamp={first} 100"))
    later = [line for line in live if stamp(line) > first]
    assert later[-5:] == live[5:]
    assert unbatched(ref, body) == later
    # At a record's own millisecond: BEFORE leaves it out, AFTER of the one before takes it.
    at = stamp(live[5])
    ref, body = batched(await answer(bob, f"CHATHISTORY BEFORE #a timestamp={at} 100"))
    assert unbatched(ref, body) == [line for line in live if stamp(line) < at]
    assert live[5] not in unbatched(ref, body) and live[4] in unbatched(ref, body)
    ref, body = batched(await answer(
        bob, "CHATHISTORY BETWEEN #a timestamp=2000-01-01T00:00:00.000Z "
             "timestamp=2999-01-01T00:00:00.000Z 100"))
    assert unbatched(ref, body) == live
    ref, body = batched(await answer(
        bob, "CHATHISTORY BETWEEN #a timestamp=2999-01-01T00:00:00.000Z "
             "timestamp=2000-01-01T00:00:00.000Z 3"))
    assert unbatched(ref, body) == live[-3:]  # backwards: the 3 nearest the first reference
    ref, body = batched(await answer(bob, f"CHATHISTORY AROUND #a timestamp={first} 4"))
    assert unbatched(ref, body) == live[:4]  # nothing before: four from that millisecond on


async def test_limits_are_clamped_to_the_servers_most(start_server, opened):
    server = await start_server(history=HistoryConfig(chathistory_limit=4))
    alice = await opened(server, "alice", FULL, "#a")
    tokens = [t for m in alice.received if m.command == "005" for t in m.params[1:-1]]
    assert "CHATHISTORY=4" in tokens
    for i in range(6):
        await alice.send(f"PRIVMSG #a :m{i}")
    await alice.until_pong()
    _, body = batched(await answer(alice, "CHATHISTORY LATEST #a * 50"))
    assert [line.rsplit(" ", 1)[1] for line in body] == ["m2", "m3", "m4", "m5"]
    _ref, body = batched(await answer(alice, "CHATHISTORY LATEST #a * 0"))  # 0: the most
    assert len(body) == 4


async def test_invalid_params(chat):
    _, _, bob, live = chat
    fail = ":irc.test FAIL CHATHISTORY"
    for line, reply in [
        ("CHATHISTORY", f"{fail} INVALID_PARAMS * :Unknown subcommand"),
        ("CHATHISTORY FROB #a * 10", f"{fail} INVALID_PARAMS FROB :Unknown subcommand"),
        ("CHATHISTORY LATEST #a *", f"{fail} INVALID_PARAMS LATEST :Insufficient parameters"),
        ("CHATHISTORY LATEST #a * 10 extra", f"{fail} INVALID_PARAMS LATEST :Too many parameters"),
        ("CHATHISTORY BETWEEN #a * 10", f"{fail} INVALID_PARAMS BETWEEN :Insufficient parameters"),
        ("CHATHISTORY LATEST #a * ten", f"{fail} INVALID_PARAMS LATEST ten :Invalid limit"),
        ("CHATHISTORY BEFORE #a * 10", f"{fail} INVALID_PARAMS BEFORE * :Invalid message reference"),
        ("CHATHISTORY BEFORE #a timestamp=yesterday 10",
         f"{fail} INVALID_PARAMS BEFORE timestamp=yesterday :Invalid timestamp"),
        ("CHATHISTORY AFTER #a id=1 10", f"{fail} INVALID_PARAMS AFTER id=1 :Invalid message reference"),
        (f"CHATHISTORY TARGETS msgid={msgid(live[0])} timestamp=2000-01-01T00:00:00.000Z 10",
         f"{fail} INVALID_PARAMS TARGETS msgid={msgid(live[0])} :Invalid message reference"),
    ]:
        assert await answer(bob, line) == [reply], line


# -- who may read what ----------------------------------------------------------------------------


async def test_only_members_read_a_channel(chat, opened):
    server, _, _, _ = chat
    carol = await opened(server, "carol", FULL)
    refused = ":irc.test FAIL CHATHISTORY INVALID_TARGET LATEST {} :Messages could not be retrieved"
    assert await answer(carol, "CHATHISTORY LATEST #a * 10") == [refused.format("#a")]
    # A channel that does not exist and a malformed name say exactly the same.
    assert await answer(carol, "CHATHISTORY LATEST #nowhere * 10") == [refused.format("#nowhere")]
    assert await answer(carol, "CHATHISTORY LATEST a,b * 10") == [refused.format("a,b")]
    await join(carol, "#a")
    _ref, body = batched(await answer(carol, "CHATHISTORY LATEST #a * 10"))
    assert len(body) == 10  # a member now: the channel's history is there


async def test_past_members_read_up_to_when_they_left_when_configured(start_server, opened):
    server = await start_server(history=HistoryConfig(past_members=True),
                                auth=("anonymous", "memory:carol:secret-pw"))
    alice = await opened(server, "alice", FULL, "#a")
    carol = await opened(server, "carol", FULL, "#a", password="secret-pw")
    anon = await opened(server, "dave", FULL, "#a")
    await alice.send("PRIVMSG #a :while carol is here")
    await carol.expect("PRIVMSG")
    await carol.send("PART #a")
    await carol.expect("PART")
    await anon.send("PART #a")
    await anon.expect("PART")
    await alice.send("PRIVMSG #a :after carol left")
    await alice.until_pong()
    _ref, body = batched(await answer(carol, "CHATHISTORY LATEST #a * 10"))
    assert [untagged(line) for line in body] == [
        f":{prefix('alice')} PRIVMSG #a :while carol is here"]
    # Without an account, leaving is leaving.
    assert await answer(anon, "CHATHISTORY LATEST #a * 10") == [
        ":irc.test FAIL CHATHISTORY INVALID_TARGET LATEST #a :Messages could not be retrieved"]


async def test_a_past_member_whose_join_was_pruned_still_reads_but_not_when_banned(
        start_server, opened):
    server = await start_server(history=HistoryConfig(past_members=True, lines=6),
                                auth=("anonymous", "memory:carol:secret-pw"))
    alice = await opened(server, "alice", FULL, "#a")
    carol = await opened(server, "carol", FULL, "#a", password="secret-pw")
    for i in range(6):  # carol's JOIN goes: 6 records are kept
        await alice.send(f"PRIVMSG #a :m{i}")
    await alice.until_pong()
    await carol.send("PART #a")
    await carol.expect("PART")
    await alice.send("PRIVMSG #a :after carol left")
    await alice.until_pong()
    _ref, body = batched(await answer(carol, "CHATHISTORY LATEST #a * 10"))
    # Up to its PART (m0 and m1 went with the PART and the last line).
    assert [untagged(line) for line in body] == [
        f":{prefix('alice')} PRIVMSG #a m{i}" for i in (2, 3, 4, 5)]
    # A past member who is banned reads nothing, as one who was never there.
    refused = [(":irc.test FAIL CHATHISTORY INVALID_TARGET LATEST #a :Messages could not be "
                "retrieved")]
    await alice.send("MODE #a +b carol!*@*")
    await alice.expect("MODE")
    assert await answer(carol, "CHATHISTORY LATEST #a * 10") == refused
    await alice.send("MODE #a -b carol!*@*")
    await alice.expect("MODE")
    _ref, body = batched(await answer(carol, "CHATHISTORY LATEST #a * 10"))
    assert [untagged(line) for line in body] == [  # the two MODEs took two more lines
        f":{prefix('alice')} PRIVMSG #a m{i}" for i in (4, 5)]
    # Once its PART is pruned too, nothing it may read is left: refused.
    for i in range(3):
        await alice.send(f"PRIVMSG #a :later {i}")
    await alice.until_pong()
    assert await answer(carol, "CHATHISTORY LATEST #a * 10") == refused


async def test_a_private_conversation_is_for_its_two_parties(start_server, opened):
    server = await start_server()
    alice = await opened(server, "alice", FULL)
    bob = await opened(server, "bob", FULL)
    carol = await opened(server, "carol", FULL)
    await alice.send("PRIVMSG bob :hi bob")
    first = (await bob.expect("PRIVMSG")).to_line()
    await bob.send("PRIVMSG alice :hi alice")
    second = (await alice.expect("PRIVMSG")).to_line()
    await carol.send("PRIVMSG bob :carol here")
    await bob.expect("PRIVMSG")
    got = await answer(alice, "CHATHISTORY LATEST BOB * 10")
    ref, body = batched(got)
    assert got[0] == f":irc.test BATCH +{ref} chathistory bob"  # the target's own spelling
    assert unbatched(ref, body) == [first, second]
    ref, body = batched(await answer(bob, "CHATHISTORY LATEST alice * 10"))
    assert unbatched(ref, body) == [first, second]
    # carol's conversation with bob is hers; alice and bob's is not.
    ref, body = batched(await answer(carol, "CHATHISTORY LATEST alice * 10"))
    assert body == []
    ref, body = batched(await answer(carol, "CHATHISTORY LATEST bob * 10"))
    assert [untagged(line) for line in body] == [f":{prefix('carol')} PRIVMSG bob :carol here"]


async def test_a_nick_without_account_does_not_inherit_the_conversation(start_server, opened):
    server = await start_server()
    alice = await opened(server, "alice", FULL)
    bob = await opened(server, "bob", FULL)
    await alice.send("PRIVMSG bob :for the first bob")
    await bob.expect("PRIVMSG")
    await bob.send("QUIT")
    await bob.closed()
    impostor = await opened(server, "bob", FULL)
    _, body = batched(await answer(impostor, "CHATHISTORY LATEST alice * 10"))
    assert body == []
    _ref, body = batched(await answer(alice, "CHATHISTORY LATEST bob * 10"))
    assert len(body) == 1  # still alice's own history


# -- event-playback, batch, labels ---------------------------------------------------------------


async def test_event_playback_adds_what_happened(start_server, opened):
    server = await start_server()
    alice = await opened(server, "alice", FULL + " draft/event-playback", "#a")
    bob = await opened(server, "bob", FULL, "#a")
    for line in ("PRIVMSG #a :hello", "TOPIC #a :the topic", "MODE #a +v bob", "NICK alicia",
                 "KICK #a bob :out"):
        await alice.send(line)
    await alice.until_pong()
    ref, body = batched(await answer(alice, "CHATHISTORY LATEST #a * 20"))
    plain = [untagged(line) for line in body]
    assert plain == [
        f":{prefix('alice')} JOIN #a",
        f":{prefix('bob')} JOIN #a",
        f":{prefix('alice')} PRIVMSG #a hello",
        f":{prefix('alice')} TOPIC #a :the topic",
        f":{prefix('alice')} MODE #a +v bob",
        f":{prefix('alice')} NICK alicia",
        f":{prefix('alicia')} KICK #a bob out",
    ]
    assert all(line.startswith(f"@batch={ref};time=") and ";msgid=" in line for line in body)
    # bob (without event-playback, a member again) sees only the message.
    await join(bob, "#a")
    ref, body = batched(await answer(bob, "CHATHISTORY LATEST #a * 20"))
    assert [untagged(line) for line in body] == [
        f":{prefix('alice')} PRIVMSG #a hello"]


EVENTS = ("JOIN", "PART", "QUIT", "KICK", "NICK", "TOPIC", "MODE", "PRIVMSG")


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgresql"])
async def test_event_playback_gives_each_event_the_msgid_and_time_it_had_live(
        start_server, opened, tmp_path, request, backend):
    if backend == "memory":
        server = await start_server()
    elif backend == "sqlite":
        server = await start_server(database=f"sqlite:///{tmp_path / 'words.db'}")
    else:
        server = await start_server(
            database=fresh_postgres_database(request.getfixturevalue("postgres_url")))
    watch = await opened(server, "watch", FULL + " draft/event-playback", "#a")  # operator
    alice = await opened(server, "alice", FULL, "#a")
    await opened(server, "bob", FULL, "#a")  # kicked below
    carol = await opened(server, "carol", FULL, "#a")
    for client, line in [(watch, "TOPIC #a :the topic"), (watch, "MODE #a +v alice"),
                         (alice, "PRIVMSG #a :hello"), (alice, "NICK alicia"),
                         (watch, "KICK #a bob :out"), (alice, "PART #a :later"),
                         (carol, "QUIT :gone")]:
        await client.send(line)
        if client is carol:
            assert await carol.closed()
        else:
            await client.until_pong()
    await watch.until_pong()
    live = [m.to_line() for m in watch.received if m.command in EVENTS]
    assert [line.split(" ", 2)[2].split()[0] for line in live] == [
        "JOIN", "JOIN", "JOIN", "JOIN", "TOPIC", "MODE", "PRIVMSG", "NICK", "KICK", "PART", "QUIT"]
    ref, body = batched(await answer(watch, "CHATHISTORY LATEST #a * 50"))
    assert unbatched(ref, body) == live
    ids = [msgid(line) for line in live]
    assert len(set(ids)) == len(ids)


async def test_without_batch_and_tags_the_lines_come_bare(chat, opened):
    server, _alice, _, _ = chat
    plain = await opened(server, "plain", "draft/chathistory", "#a")
    assert await answer(plain, "CHATHISTORY LATEST #a * 2") == [
        f":{prefix('alice')} PRIVMSG #a m8", f":{prefix('alice')} PRIVMSG #a m9"]


async def test_a_labeled_chathistory_nests_its_batch(chat, opened):
    server, _, _, live = chat
    carol = await opened(server, "carol", FULL + " labeled-response", "#a")
    got = await answer(carol, "@label=h1 CHATHISTORY LATEST #a * 2")
    outer_start, inner_start, first, second, inner_end, outer_end = got
    outer = re.fullmatch(r"@label=h1 :irc\.test BATCH \+(\S+) labeled-response", outer_start).group(1)
    inner = re.fullmatch(fr"@batch={outer} :irc\.test BATCH \+(\S+) chathistory #a",
                         inner_start).group(1)
    assert unbatched(inner, [first, second]) == live[-2:]
    assert inner_end == f"@batch={outer} :irc.test BATCH -{inner}"
    assert outer_end == f":irc.test BATCH -{outer}"
    # An error is labelled as any one-line answer.
    assert await answer(carol, "@label=h2 CHATHISTORY LATEST #zz * 2") == [
        ("@label=h2 :irc.test FAIL CHATHISTORY INVALID_TARGET LATEST #zz :Messages could not be "
        "retrieved")]


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_targets_lists_channels_and_correspondents_by_latest_message(start_server, opened,
                                                                          tmp_path, backend):
    server = await start_server(**backend_options(backend, tmp_path))
    alice = await opened(server, "alice", FULL, "#a", "#b")
    bob = await opened(server, "bob", FULL, "#a")
    await alice.send("PRIVMSG #b :in b")
    await alice.send("PRIVMSG #a :in a")
    await bob.send("PRIVMSG alice :psst")
    psst = stamp((await alice.expect("PRIVMSG")).to_line())
    await bob.until_pong()
    got = await answer(alice, "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
                              "timestamp=2999-01-01T00:00:00.000Z 10")
    start, *body, end = got
    ref = re.fullmatch(r":irc\.test BATCH \+(\S+) draft/chathistory-targets", start).group(1)
    names = [re.fullmatch(fr"@batch={ref} :irc\.test CHATHISTORY TARGETS (\S+) (\S+)", line).group(1)
             for line in body]
    assert names == ["#b", "#a", "bob"]
    assert body[-1].endswith(f" bob {psst}")
    assert end == f":irc.test BATCH -{ref}"
    # The window and the limit apply.
    got = await answer(alice, "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
                              "timestamp=2999-01-01T00:00:00.000Z 1")
    assert len(got) == 3 and " #b " in got[1]
    assert len(await answer(alice, "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z "
                                   "timestamp=2000-01-02T00:00:00.000Z 10")) == 2


# -- replay on JOIN ------------------------------------------------------------------------------


async def test_replay_on_join_for_clients_without_chathistory(start_server, opened):
    server = await start_server(history=HistoryConfig(replay_on_join=2))
    alice = await opened(server, "alice", "", "#a")
    for i in range(3):
        await alice.send(f"PRIVMSG #a :m{i}")
    await alice.until_pong()
    plain = await opened(server, "plain")
    got = await answer(plain, "JOIN #a")
    assert got[-3] == ":irc.test 366 plain #a :End of /NAMES list"
    assert [re.sub(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] ", "[T] ", line) for line in got[-2:]] == [
        f":{prefix('alice')} PRIVMSG #a :[T] m1", f":{prefix('alice')} PRIVMSG #a :[T] m2"]
    tagged = await opened(server, "tagged", "batch server-time")
    got = await answer(tagged, "JOIN #a")
    ref, body = batched(got[got.index(":irc.test 366 tagged #a :End of /NAMES list") + 1:])
    assert [re.sub(r"time=[^ ]+", "time=T", line) for line in body] == [
        f"@batch={ref};time=T :{prefix('alice')} PRIVMSG #a m1",
        f"@batch={ref};time=T :{prefix('alice')} PRIVMSG #a m2",
    ]
    # A chathistory client asks for what it wants: nothing is replayed.
    modern = await opened(server, "modern", FULL)
    got = await answer(modern, "JOIN #a")
    assert got[-1] == ":irc.test 366 modern #a :End of /NAMES list"


async def test_a_labeled_join_gets_its_burst_and_replay_in_one_labeled_answer(start_server,
                                                                             opened):
    server = await start_server(history=HistoryConfig(replay_on_join=2))
    alice = await opened(server, "alice", "", "#a", "#b")
    for line in ("PRIVMSG #a :a0", "PRIVMSG #a :a1", "PRIVMSG #a :a2", "PRIVMSG #b :b0"):
        await alice.send(line)
    await alice.until_pong()
    client = await opened(server, "lab", "batch server-time labeled-response")
    got = [re.sub(r"time=[^; ]+", "time=T", line)
           for line in await answer(client, "@label=j1 JOIN #a,#b")]
    outer = re.fullmatch(r"@label=j1 :irc\.test BATCH \+(\S+) labeled-response", got[0]).group(1)
    first = re.fullmatch(fr"@batch={outer} :irc\.test BATCH \+(\S+) chathistory #a",
                         got[7]).group(1)
    second = re.fullmatch(fr"@batch={outer} :irc\.test BATCH \+(\S+) chathistory #b",
                          got[11]).group(1)
    # The JOIN bursts, then each channel's replay (a batch inside the labelled one), then
    # nothing: no unlabelled burst, no stray ACK.
    assert got == [
        f"@label=j1 :irc.test BATCH +{outer} labeled-response",
        f"@batch={outer};time=T :{prefix('lab')} JOIN #a",
        f"@batch={outer} :irc.test 353 lab = #a :@alice lab",
        f"@batch={outer} :irc.test 366 lab #a :End of /NAMES list",
        f"@batch={outer};time=T :{prefix('lab')} JOIN #b",
        f"@batch={outer} :irc.test 353 lab = #b :@alice lab",
        f"@batch={outer} :irc.test 366 lab #b :End of /NAMES list",
        f"@batch={outer} :irc.test BATCH +{first} chathistory #a",
        f"@batch={first};time=T :{prefix('alice')} PRIVMSG #a a1",
        f"@batch={first};time=T :{prefix('alice')} PRIVMSG #a a2",
        f"@batch={outer} :irc.test BATCH -{first}",
        f"@batch={outer} :irc.test BATCH +{second} chathistory #b",
        f"@batch={second};time=T :{prefix('alice')} PRIVMSG #b b0",
        f"@batch={outer} :irc.test BATCH -{second}",
        f":irc.test BATCH -{outer}",
    ]


async def test_replay_on_join_for_each_combination_of_batch_and_server_time(start_server,
                                                                           opened):
    # batch: a chathistory batch; server-time: the time as a tag, else in the text.
    server = await start_server(history=HistoryConfig(replay_on_join=1))
    alice = await opened(server, "alice", "", "#a")
    await alice.send("PRIVMSG #a :hello")
    await alice.until_pong()
    stamped = r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] "
    for nick, caps, expected in [
        ("none", "", [f":{prefix('alice')} PRIVMSG #a :[T] hello"]),
        ("timed", "server-time", [f"@time=T :{prefix('alice')} PRIVMSG #a hello"]),
        ("batched", "batch", ["BATCH +R chathistory #a",
                              f"@batch=R :{prefix('alice')} PRIVMSG #a :[T] hello", "BATCH -R"]),
        ("both", "batch server-time", ["BATCH +R chathistory #a",
                                       f"@batch=R;time=T :{prefix('alice')} PRIVMSG #a hello",
                                       "BATCH -R"]),
    ]:
        client = await opened(server, nick, caps)
        got = await answer(client, "JOIN #a")
        replay = got[got.index(f":irc.test 366 {nick} #a :End of /NAMES list") + 1:]
        plain = [re.sub(stamped, "[T] ", re.sub(r"time=[^; ]+", "time=T", line)) for line in replay]
        plain = [re.sub(r"batch=[^; ]+", "batch=R", line) for line in plain]
        plain = [re.sub(r"^:irc\.test BATCH ([+-])\S+", r"BATCH \1R", line) for line in plain]
        assert plain == expected, caps


# -- SQL realm: the same answers, and across restarts ----------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_chathistory_on_sql_survives_a_restart(start_server, opened, tmp_path, request,
                                                     backend):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'words.db'}"
    else:
        url = fresh_postgres_database(request.getfixturevalue("postgres_url"))
    server = await start_server(database=url)
    alice = await opened(server, "alice", FULL, "#a")
    bob = await opened(server, "bob", FULL, "#a")
    live = await said(alice, bob, [f"PRIVMSG #a :m{i}" for i in range(5)])
    ref, body = batched(await answer(bob, f"CHATHISTORY BEFORE #a msgid={msgid(live[3])} 2"))
    assert unbatched(ref, body) == live[1:3]
    await alice.close()
    await bob.close()
    await server.stop()
    await server.realm.close()

    server = await start_server(database=url)
    carol = await opened(server, "carol", FULL, "#a")
    ref, body = batched(await answer(carol, "CHATHISTORY LATEST #a * 10"))
    assert unbatched(ref, body) == live
    ref, body = batched(await answer(carol, f"CHATHISTORY AFTER #a msgid={msgid(live[1])} 2"))
    assert unbatched(ref, body) == live[2:4]


async def test_history_survives_a_restart_of_a_words_process(tmp_path, words_process):
    config = tmp_path / "words.yaml"
    config.write_text(
        "realm: {database: 'sqlite:///words.db'}\n"
        "limits: {flood_burst: 100000, flood_rate: 100000}\n"
        "services: {enforce_nicks: false}\n"
        "history: {lines: 50, max_age: 86400}\n"
        "server: {name: irc.test}\n"
    )
    port = free_port()
    proc = words_process("--config", str(config), port=port)
    alice = await RawClient.connect(port)
    await negotiate(alice, "alice", FULL)
    await join(alice, "#kept")
    await alice.send("PRIVMSG #kept :said before the restart")
    await alice.until_pong()
    await alice.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0

    port = free_port()
    words_process("--config", str(config), port=port)
    bob = await RawClient.connect(port)
    await negotiate(bob, "bob", FULL)
    await join(bob, "#kept")
    _ref, body = batched(await answer(bob, "CHATHISTORY LATEST #kept * 10"))
    assert [untagged(line) for line in body] == [
        f":{prefix('alice')} PRIVMSG #kept :said before the restart"]
    await bob.close()


def test_history_config_is_checked():
    from words.config import ConfigError, config_from_mapping

    config = config_from_mapping({"history": {
        "lines": 10, "max_age": 0, "chathistory_limit": 20, "replay_on_join": 5,
        "past_members": True, "private": False, "channels": {"#Big": {"lines": 99}},
    }}, "h.yaml")
    assert config.history == replace(
        HistoryConfig(), lines=10, max_age=0.0, chathistory_limit=20, replay_on_join=5,
        past_members=True, private=False, channels=(("#Big", 99, 0.0),))
    for bad, message in [
        ({"lines": 0}, "h.yaml: history.lines: must be at least 1, got 0"),
        ({"max_age": "forever"},
         "h.yaml: history.max_age: must be a number of seconds (0: no limit), got 'forever'"),
        ({"channels": {"big": {}}},
         'h.yaml: history.channels.big: must be a channel name (quote it: "#chan")'),
        ({"colour": 1}, ("h.yaml: history.colour: unknown key (known: channels, chathistory_limit, "
                        "enabled, lines, max_age, past_members, private, replay_on_join)")),
    ]:
        with pytest.raises(ConfigError) as raised:
            config_from_mapping({"history": bad}, "h.yaml")
        assert str(raised.value) == message


@pytest.mark.parametrize("database", [False, True], ids=["memory", "sqlite"])
async def test_a_rehash_changes_retention_and_the_limit(tmp_path, database):
    from words.app import build_server
    from words.config import load_config

    path = tmp_path / "words.yaml"
    base = ("listen: ['127.0.0.1:0']\nhashing: {ln: 4}\nserver: {name: irc.test}\n"
            "limits: {flood_burst: 100000, flood_rate: 100000}\n")
    if database:
        base += f"realm: {{database: 'sqlite:///{tmp_path / 'words.db'}'}}\n"
    path.write_text(base + "history: {lines: 6}\n")
    server = build_server(load_config(path))
    if database:
        await server.realm.open()
    await server.start()
    server.port = server.bound[0][1]
    alice = await RawClient.connect(server.port)
    try:
        await negotiate(alice, "alice", FULL)
        await join(alice, "#a")
        for i in range(6):
            await alice.send(f"PRIVMSG #a :m{i}")
        _, body = batched(await answer(alice, "CHATHISTORY LATEST #a * 10"))
        # 6 records kept: the six messages (alice's JOIN was the seventh, the oldest).
        assert [line.rsplit(" ", 1)[1] for line in body] == ["m0", "m1", "m2", "m3", "m4", "m5"]
        path.write_text(base + "history: {lines: 3, chathistory_limit: 2}\n")
        assert server.rehash() is None
        _, body = batched(await answer(alice, "CHATHISTORY LATEST #a * 10"))
        assert [line.rsplit(" ", 1)[1] for line in body] == ["m4", "m5"]  # the new limit
        _, body = batched(await answer(alice, "CHATHISTORY BEFORE #a timestamp=2999-01-01T00:00:00.000Z 2"))
        assert [line.rsplit(" ", 1)[1] for line in body] == ["m4", "m5"]
        _, body = batched(await answer(alice, "CHATHISTORY AFTER #a timestamp=2000-01-01T00:00:00.000Z 2"))
        # Only the 3 newest records are kept now: m0..m2 went.
        assert [line.rsplit(" ", 1)[1] for line in body] == ["m3", "m4"]
    finally:
        await alice.close()
        await server.stop()
        if database:
            await server.realm.close()
