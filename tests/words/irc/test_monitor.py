"""MONITOR over real sockets: + - C L S, 730-734, notifications on sign-on, quit and nick change."""

from __future__ import annotations

import pytest
from support import RawClient, reply_to

from words.config import load_config


@pytest.fixture
async def server(start_server):
    return await start_server(limits={"max_monitor_entries": 3})


async def test_monitor_limit_is_in_isupport(connect):
    alice = await connect("alice")
    tokens = [t for m in alice.received if m.command == "005" for t in m.params[1:-1]]
    assert "MONITOR=3" in tokens


async def test_adding_reports_who_is_online_and_who_is_not(connect):
    alice = await connect("alice")
    await connect("bob")
    assert await reply_to(alice, "MONITOR + bob,carol") == [
        ":irc.test 730 alice bob!~user@127.0.0.1",
        ":irc.test 731 alice carol",
    ]


async def test_sign_on_quit_and_nick_change_are_announced(connect):
    alice = await connect("alice")
    await reply_to(alice, "MONITOR + bob,Robert")
    bob = await connect("bob")
    assert [m.to_line() for m in await alice.until_pong()] == [
        ":irc.test 730 alice bob!~user@127.0.0.1",
    ]
    await bob.send("NICK robert")
    await bob.expect("NICK")
    # The old nick went offline and the new one (matched case-insensitively) came online.
    assert [m.to_line() for m in await alice.until_pong()] == [
        ":irc.test 731 alice bob",
        ":irc.test 730 alice robert!~user@127.0.0.1",
    ]
    await bob.send("QUIT :bye")
    assert await bob.closed()
    assert [m.to_line() for m in await alice.until_pong()] == [":irc.test 731 alice robert"]


async def test_a_change_of_case_only_says_nothing(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await reply_to(alice, "MONITOR + bob")
    await bob.send("NICK BOB")
    await bob.expect("NICK")
    assert [m.to_line() for m in await alice.until_pong()] == []


async def test_casemapping_rfc1459_folds_brackets(connect):
    alice = await connect("alice")
    await reply_to(alice, "MONITOR + x[a]")
    await connect("X{A}")
    assert [m.to_line() for m in await alice.until_pong()] == [
        ":irc.test 730 alice X{A}!~user@127.0.0.1",
    ]
    assert await reply_to(alice, "MONITOR + X{a}") == [
        ":irc.test 730 alice X{A}!~user@127.0.0.1",
    ]
    assert await reply_to(alice, "MONITOR L") == [
        ":irc.test 732 alice x[a]",
        ":irc.test 733 alice :End of MONITOR list",
    ]


async def test_list_status_remove_and_clear(connect):
    alice = await connect("alice")
    await connect("bob")
    assert await reply_to(alice, "MONITOR L") == [":irc.test 733 alice :End of MONITOR list"]
    assert await reply_to(alice, "MONITOR + bob,carol,dave") == [
        ":irc.test 730 alice bob!~user@127.0.0.1",
        ":irc.test 731 alice carol,dave",
    ]
    assert await reply_to(alice, "MONITOR L") == [
        ":irc.test 732 alice bob,carol,dave",
        ":irc.test 733 alice :End of MONITOR list",
    ]
    assert await reply_to(alice, "MONITOR S") == [
        ":irc.test 730 alice bob!~user@127.0.0.1",
        ":irc.test 731 alice carol,dave",
    ]
    assert await reply_to(alice, "MONITOR - carol,nobody") == []
    assert await reply_to(alice, "MONITOR L") == [
        ":irc.test 732 alice bob,dave",
        ":irc.test 733 alice :End of MONITOR list",
    ]
    assert await reply_to(alice, "MONITOR C") == []
    assert await reply_to(alice, "MONITOR L") == [":irc.test 733 alice :End of MONITOR list"]
    await connect("dave")
    assert [m.to_line() for m in await alice.until_pong()] == []


async def test_a_full_list_refuses_the_rest_with_734(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "MONITOR + a,b") == [":irc.test 731 alice a,b"]
    # A target already listed takes no room and is not added twice.
    assert await reply_to(alice, "MONITOR + A,c,d,e") == [
        ":irc.test 731 alice A,c",
        ":irc.test 734 alice 3 d,e :Monitor list is full.",
    ]
    assert await reply_to(alice, "MONITOR L") == [
        ":irc.test 732 alice a,b,c",
        ":irc.test 733 alice :End of MONITOR list",
    ]


async def test_invalid_nicks_are_not_monitored(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "MONITOR + #chan,1abc,ok,a!b@c") == [":irc.test 731 alice ok"]
    assert await reply_to(alice, "MONITOR L") == [
        ":irc.test 732 alice ok",
        ":irc.test 733 alice :End of MONITOR list",
    ]


async def test_needs_targets_and_registration(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "MONITOR") == [
        ":irc.test 461 alice MONITOR :Not enough parameters",
    ]
    assert await reply_to(alice, "MONITOR +") == [
        ":irc.test 461 alice MONITOR :Not enough parameters",
    ]
    client = await connect()
    await client.send("MONITOR + alice")
    assert (await client.expect("451")).to_line() == ":irc.test 451 * :You have not registered"


async def test_the_list_goes_with_the_connection(server, connect):
    alice = await connect("alice")
    await reply_to(alice, "MONITOR + bob")
    assert server.monitors.watchers
    await alice.send("QUIT")
    assert await alice.closed()
    assert server.monitors.watchers == {} and server.monitors.lists == {}


async def test_several_watchers_each_hear_once(connect):
    alice = await connect("alice")
    carol = await connect("carol")
    await reply_to(alice, "MONITOR + bob")
    await reply_to(carol, "MONITOR + bob")
    await connect("bob")
    assert [m.to_line() for m in await alice.until_pong()] == [
        ":irc.test 730 alice bob!~user@127.0.0.1",
    ]
    assert [m.to_line() for m in await carol.until_pong()] == [
        ":irc.test 730 carol bob!~user@127.0.0.1",
    ]


async def test_long_lists_are_split_under_512_bytes(start_server):
    server = await start_server(limits={"max_monitor_entries": 200})
    alice = await RawClient.connect(server.port)
    try:
        await alice.register("alice")
        nicks = [f"nick{i:025d}" for i in range(60)]
        for start in range(0, 60, 15):
            await reply_to(alice, "MONITOR + " + ",".join(nicks[start:start + 15]))
        replies = await reply_to(alice, "MONITOR L")
        assert replies[-1] == ":irc.test 733 alice :End of MONITOR list"
        assert len(replies) > 2
        assert all(len(line.encode()) + 2 <= 512 for line in replies)
        listed = [n for line in replies[:-1] for n in line.split(" ")[-1].split(",")]
        assert listed == nicks
    finally:
        await alice.close()


def test_the_limit_is_configurable(tmp_path):
    path = tmp_path / "words.yaml"
    path.write_text("limits:\n  max_monitor_entries: 7\n")
    assert load_config(path).limits.max_monitor_entries == 7
    path.write_text("limits:\n  max_monitor_entries: 0\n")
    with pytest.raises(ValueError, match="limits.max_monitor_entries: must be at least 1"):
        load_config(path)


# -- extended-monitor ----------------------------------------------------------------------


async def capped(server, nick: str, caps: str) -> RawClient:
    client = await RawClient.connect(server.port)
    client.nick = nick
    await client.send(f"CAP REQ :{caps}")
    await client.expect("CAP", "*", "ACK")
    await client.send(f"NICK {nick}")
    await client.send(f"USER user 0 * :Real {nick}")
    await client.send("CAP END")
    await client.expect("376", nick)
    return client


@pytest.fixture
async def oper_server(start_server):
    from words.config import Oper
    from words.cred import PasswordHasher

    root = PasswordHasher.from_config({"ln": 4}).hash("sesame")
    return await start_server(opers=(Oper("root", root, hosts=("~user@127.0.0.1",)),))


async def test_extended_monitor_is_offered(server):
    client = await RawClient.connect(server.port)
    try:
        await client.send("CAP LS 302")
        assert "extended-monitor" in (await client.expect("CAP", "*", "LS")).params[-1].split()
    finally:
        await client.close()


async def test_extended_monitor_tells_away_account_chghost_and_setname_without_a_channel(
    oper_server,
):
    server = oper_server
    watcher = await capped(
        server, "watcher", "extended-monitor away-notify account-notify chghost setname"
    )
    plain = await capped(server, "plain", "away-notify account-notify chghost setname")
    bob = await RawClient.connect(server.port)
    admin = await RawClient.connect(server.port)
    try:
        await bob.register("bob")
        await admin.register("admin")
        await admin.send("OPER root sesame")
        await admin.expect("381")
        await reply_to(watcher, "MONITOR + bob")
        await reply_to(plain, "MONITOR + bob")
        await bob.send("AWAY :lunch")
        await bob.expect("306")
        await bob.send("AWAY")
        await bob.expect("305")
        await bob.send("REGISTER * * sekrit123")
        await bob.expect("900")
        await bob.send("SETNAME :Robert")
        await admin.send("CHGHOST bob ~b vhost.example")
        await admin.expect("NOTICE")
        await bob.until_pong()
        assert [m.to_line() for m in await watcher.until_pong()] == [
            ":bob!~user@127.0.0.1 AWAY lunch",
            ":bob!~user@127.0.0.1 AWAY",
            ":bob!~user@127.0.0.1 ACCOUNT bob",
            ":bob!~user@127.0.0.1 SETNAME Robert",
            ":bob!~user@127.0.0.1 CHGHOST ~b vhost.example",
        ]
        # Without extended-monitor, MONITOR tells only of sign-on, quit and nick changes.
        assert [m.to_line() for m in await plain.until_pong()] == []
    finally:
        for client in (watcher, plain, bob, admin):
            await client.close()


async def test_extended_monitor_needs_the_matching_cap_and_never_doubles_a_shared_channel(server):
    watcher = await capped(server, "watcher", "extended-monitor away-notify")
    bob = await RawClient.connect(server.port)
    try:
        await bob.register("bob")
        await reply_to(watcher, "MONITOR + bob")
        await bob.send("SETNAME :Robert")
        await bob.until_pong()
        assert [m.to_line() for m in await watcher.until_pong()] == []  # no setname cap
        await bob.send("JOIN #a")
        await bob.expect("366")
        await watcher.send("JOIN #a")
        await watcher.expect("366")
        await watcher.until_pong()
        await bob.send("AWAY :lunch")
        await bob.expect("306")
        # Sharing #a, away-notify already tells it, once.
        assert [m.to_line() for m in await watcher.until_pong()] == [
            ":bob!~user@127.0.0.1 AWAY lunch",
        ]
    finally:
        await watcher.close()
        await bob.close()
