"""IRCv3 capabilities over real sockets: the exact lines a client gets with and without each."""

from __future__ import annotations

import re

import pytest
from support import RawClient, join

HOST = "127.0.0.1"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def negotiate(client: RawClient, nick: str, caps: str) -> None:
    """CAP LS 302, REQ `caps` (if any), NICK, USER, CAP END: a registered client with caps."""
    client.nick = nick
    await client.send("CAP LS 302")
    await client.expect("CAP", "*", "LS")
    if caps:
        await client.send(f"CAP REQ :{caps}")
        await client.expect("CAP", "*", "ACK", caps)
    await client.send(f"NICK {nick}")
    await client.send(f"USER user 0 * :Real {nick}")
    await client.send("CAP END")
    await client.expect("001", nick)
    await client.expect("376", nick)


@pytest.fixture
async def capped(server):
    """`await capped("alice", "server-time message-tags")`: a registered client with those caps."""
    clients: list[RawClient] = []

    async def open_(nick: str, caps: str = "", *channels: str) -> RawClient:
        client = await RawClient.connect(server.port)
        clients.append(client)
        await negotiate(client, nick, caps)
        await join(client, *channels)
        return client

    yield open_
    for client in clients:
        await client.close()


async def settled(*clients: RawClient) -> None:
    """Read everything sent so far, so the next until_pong shows only what follows."""
    for client in clients:
        await client.until_pong()


async def after(line: str, sender: RawClient, *others: RawClient) -> list[list[str]]:
    """Send `line` from `sender`; what each of `sender`, *others got (lines, up to a PONG)."""
    await settled(sender, *others)
    await sender.send(line)
    return [[m.to_line() for m in await client.until_pong()] for client in (sender, *others)]


def masked(line: str) -> str:
    """`line` with its msgid and time values replaced by placeholders, for exact comparisons."""
    line = re.sub(r"msgid=[^; ]+", "msgid=ID", line)
    return re.sub(r"time=[^; ]+", "time=T", line)


def tag(line: str, name: str) -> str | None:
    """The value of the tag `name` on a raw line ("" for a tag without value), or None."""
    if not line.startswith("@"):
        return None
    for item in line[1:].split(" ", 1)[0].split(";"):
        key, _, value = item.partition("=")
        if key == name:
            return value
    return None


def prefix(nick: str) -> str:
    return f"{nick}!~user@{HOST}"


async def cap_ls(server) -> list[str]:
    client = await RawClient.connect(server.port)
    try:
        await client.send("CAP LS 302")
        return (await client.expect("CAP", "*", "LS")).params[-1].split()
    finally:
        await client.close()


# -- CAP LS -------------------------------------------------------------------------------


async def test_the_ircv3_caps_are_offered(server):
    offered = await cap_ls(server)
    for name in ("server-time", "message-tags", "account-tag", "echo-message", "multi-prefix",
                 "userhost-in-names", "extended-join", "away-notify", "account-notify",
                 "invite-notify", "setname", "standard-replies", "cap-notify"):
        assert name in offered
    # msgid and bot are tags that come with message-tags, not capabilities.
    assert "msgid" not in offered and "bot" not in offered


async def test_sts_is_not_offered_without_tls(server):
    offered = await cap_ls(server)
    assert "server-time" in offered and not [name for name in offered if name.startswith("sts")]


async def test_cap_list_shows_what_was_acked(capped):
    alice = await capped("alice", "server-time multi-prefix")
    await alice.send("CAP LIST")
    assert sorted((await alice.expect("CAP", "alice", "LIST")).params[-1].split()) == [
        "cap-notify", "multi-prefix", "server-time",
    ]
    await alice.send("CAP REQ :-server-time")
    await alice.expect("CAP", "alice", "ACK", "-server-time")
    await alice.send("CAP LIST")
    assert "server-time" not in (await alice.expect("CAP", "alice", "LIST")).params[-1].split()


# -- server-time ----------------------------------------------------------------------------


async def test_server_time_tags_relayed_messages_in_utc_with_milliseconds(capped):
    import datetime

    alice = await capped("alice", "", "#a")
    bob = await capped("bob", "server-time", "#a")
    carol = await capped("carol", "", "#a")
    before = datetime.datetime.now(datetime.timezone.utc)
    _, bob_got, carol_got = await after("PRIVMSG #a :hi", alice, bob, carol)
    assert carol_got == [f":{prefix('alice')} PRIVMSG #a hi"]
    assert masked(bob_got[0]) == f"@time=T :{prefix('alice')} PRIVMSG #a hi"
    stamp = tag(bob_got[0], "time")
    assert TIME.match(stamp)
    when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    assert abs((when - before).total_seconds()) < 5


async def test_server_time_never_goes_backwards(capped):
    alice = await capped("alice", "", "#a")
    bob = await capped("bob", "server-time", "#a")
    await settled(bob)
    for i in range(30):
        await alice.send(f"PRIVMSG #a :{i}")
    await alice.until_pong()  # all 30 are relayed
    stamps = [tag(m.to_line(), "time") for m in await bob.until_pong()]
    assert len(stamps) == 30 and all(TIME.match(s) for s in stamps)
    assert stamps == sorted(stamps)


def test_event_times_are_monotonic_when_the_clock_steps_back(monkeypatch):
    import time

    from words.realm import events

    clock = iter([1000.0, 999.0, 1000.5])
    monkeypatch.setattr(events, "_last_time", 0.0)
    monkeypatch.setattr(time, "time", lambda: next(clock))
    assert [events.event_time() for _ in range(3)] == [1000.0, 1000.0, 1000.5]


def test_server_time_format():
    from words.irc.tags import server_time

    assert server_time(0.0) == "1970-01-01T00:00:00.000Z"
    assert server_time(1795326062.1239) == "2026-11-22T05:41:02.123Z"
    # Exact milliseconds are shown as they are (float subtraction made 1.001 show .000).
    assert server_time(1.001) == "1970-01-01T00:00:01.001Z"
    assert server_time(1795326062.999) == "2026-11-22T05:41:02.999Z"
    # A time a client sends back (CHATHISTORY timestamp=...) is shown as it was.
    from datetime import datetime

    for ms in range(1795326062000, 1795326063000):
        text = server_time(ms / 1000)
        assert server_time(datetime.fromisoformat(text).timestamp()) == text


# -- message-tags, msgid -----------------------------------------------------------------------


async def test_tagmsg_reaches_only_message_tags_clients_with_client_tags(capped):
    alice = await capped("alice", "message-tags", "#a")
    bob = await capped("bob", "message-tags", "#a")
    carol = await capped("carol", "", "#a")
    alice_got, bob_got, carol_got = await after(
        "@+draft/react=yes;+example.com/x=a\\sb;server-only=1 TAGMSG #a", alice, bob, carol)
    assert alice_got == []
    assert [masked(line) for line in bob_got] == [
        f"@+draft/react=yes;+example.com/x=a\\sb;msgid=ID :{prefix('alice')} TAGMSG #a"
    ]
    assert carol_got == []


async def test_client_tags_on_privmsg_reach_message_tags_clients_only(capped):
    alice = await capped("alice", "message-tags", "#a")
    bob = await capped("bob", "message-tags", "#a")
    carol = await capped("carol", "", "#a")
    _, bob_got, carol_got = await after("@+draft/reply=abc PRIVMSG #a :yes", alice, bob, carol)
    assert [masked(line) for line in bob_got] == [
        f"@+draft/reply=abc;msgid=ID :{prefix('alice')} PRIVMSG #a yes"
    ]
    assert carol_got == [f":{prefix('alice')} PRIVMSG #a yes"]


async def test_private_tagmsg_reaches_a_message_tags_client(capped):
    alice = await capped("alice", "message-tags")
    bob = await capped("bob", "message-tags")
    carol = await capped("carol")
    _, bob_got = await after("@+typing=active TAGMSG bob", alice, bob)
    assert [masked(line) for line in bob_got] == [
        f"@+typing=active;msgid=ID :{prefix('alice')} TAGMSG bob"
    ]
    _, carol_got = await after("@+typing=active TAGMSG carol", alice, carol)
    assert carol_got == []


async def test_tags_over_4094_bytes_get_417_and_are_not_relayed(capped):
    alice = await capped("alice", "message-tags", "#a")
    bob = await capped("bob", "message-tags", "#a")
    big = "x" * 4092
    alice_got, bob_got = await after(f"@+draft/big={big} TAGMSG #a", alice, bob)
    assert alice_got == [":irc.test 417 alice :Input line was too long"]
    assert bob_got == []
    alice_got, bob_got = await after(f"@+a={big} PRIVMSG #a :hi", alice, bob)
    assert alice_got == [":irc.test 417 alice :Input line was too long"]
    assert bob_got == []
    # 4094 bytes exactly is allowed.
    fits = "x" * (4094 - len("+a="))
    alice_got, bob_got = await after(f"@+a={fits} TAGMSG #a", alice, bob)
    assert alice_got == [] and len(bob_got) == 1 and tag(bob_got[0], "+a") == fits


async def test_any_command_with_tag_data_over_4094_bytes_gets_417(capped):
    # The budget is the line's whole tag data, whatever the command and the caps.
    alice = await capped("alice", "batch labeled-response message-tags", "#a")
    bob = await capped("bob", "message-tags", "#a")
    carol = await capped("carol", "", "#a")
    too_long = ":irc.test 417 {} :Input line was too long"
    alice_got, bob_got = await after("@label=" + "x" * 5000 + " WHOIS bob", alice, bob)
    assert alice_got == [too_long.format("alice")] and bob_got == []
    carol_got, bob_got = await after("@foo=" + "x" * 4091 + " PRIVMSG #a :hi", carol, bob)
    assert carol_got == [too_long.format("carol")] and bob_got == []
    (carol_got,) = await after("@" + "x" * 4095 + " JOIN #b", carol)  # one tag, no value
    assert carol_got == [too_long.format("carol")]
    # The connections stay up, and 4094 bytes exactly are allowed.
    label = "y" * (4094 - len("label="))
    assert await pong(alice, f"@label={label} PING tok") == f"@label={label} :irc.test PONG irc.test tok"
    carol_got, bob_got = await after("@+a=" + "x" * (4094 - 3) + " PRIVMSG #a :fits", carol, bob)
    assert carol_got == [] and [masked(line) for line in bob_got] == [
        f"@msgid=ID :{prefix('carol')} PRIVMSG #a fits"]


async def test_tags_from_a_client_without_message_tags_are_ignored(capped):
    alice = await capped("alice", "", "#a")
    bob = await capped("bob", "message-tags", "#a")
    _, bob_got = await after("@+draft/react=x PRIVMSG #a :hi", alice, bob)
    assert [masked(line) for line in bob_got] == [f"@msgid=ID :{prefix('alice')} PRIVMSG #a hi"]
    # TAGMSG exists only for message-tags clients.
    alice_got, bob_got = await after("@+draft/react=x TAGMSG #a", alice, bob)
    assert bob_got == []


async def test_msgid_is_on_every_privmsg_notice_and_tagmsg_and_unique(capped):
    alice = await capped("alice", "message-tags", "#a")
    bob = await capped("bob", "message-tags", "#a")
    await settled(bob)
    await alice.send("PRIVMSG #a :one")
    await alice.send("NOTICE #a :two")
    await alice.send("@+x TAGMSG #a")
    await alice.send("PRIVMSG bob :three")
    await alice.send("NOTICE bob :four")
    await alice.send("PRIVMSG #a :\x01ACTION five\x01")
    got = [m.to_line() for m in await bob.until_pong()]
    assert len(got) == 6
    ids = [tag(line, "msgid") for line in got]
    assert all(ids) and len(set(ids)) == 6
    # The same message has the same msgid for every recipient.
    carol = await capped("carol", "message-tags", "#a")
    _, bob_got, carol_got = await after("PRIVMSG #a :same", alice, bob, carol)
    assert tag(bob_got[0], "msgid") == tag(carol_got[0], "msgid")


async def test_msgid_is_on_every_relayed_event_the_same_for_each_recipient(capped):
    # Every change of state is one realm event with one msgid (made once, in the realm).
    caps = "message-tags away-notify account-notify setname"
    alice = await capped("alice", caps, "#a")  # the first joiner: operator
    bob = await capped("bob", caps, "#a")
    carol = await capped("carol", caps)
    lines = ["JOIN #a", "AWAY :lunch", "AWAY", "SETNAME :Carol C", "REGISTER * * sekrit123",
             "NICK caroline", "PART #a :bye", "JOIN #a", "QUIT :gone"]
    commands = ["JOIN", "AWAY", "AWAY", "SETNAME", "ACCOUNT", "NICK", "PART", "JOIN", "QUIT"]
    seen: list[str] = []
    for line, command in zip(lines, commands):
        await settled(alice, bob)
        await carol.send(line)
        if command == "QUIT":
            assert await carol.closed()
        else:
            await carol.until_pong()  # its lines wait for REGISTER's hashing: done then
        alice_got = [m for m in await alice.until_pong() if m.command == command]
        bob_got = [m for m in await bob.until_pong() if m.command == command]
        assert len(alice_got) == len(bob_got) == 1, line
        assert alice_got[0].tags["msgid"] == bob_got[0].tags["msgid"], line
        seen.append(alice_got[0].tags["msgid"])
    for line, command in [("TOPIC #a :news", "TOPIC"), ("MODE #a +v bob", "MODE"),
                          ("KICK #a bob :out", "KICK")]:
        alice_got, bob_got = await after(line, alice, bob)
        assert [masked(x) for x in alice_got] == [masked(x) for x in bob_got], line
        assert [x.split()[2] for x in bob_got] == [command]
        assert tag(alice_got[0], "msgid") == tag(bob_got[0], "msgid")
        seen.append(tag(bob_got[0], "msgid"))
    assert all(seen) and len(set(seen)) == len(seen)


async def test_a_line_that_is_not_the_event_has_no_msgid(capped):
    # The AWAY that follows an away user's JOIN is not that JOIN: it has no msgid.
    alice = await capped("alice", "message-tags away-notify", "#a")
    bob = await capped("bob", "away-notify")
    await bob.send("AWAY :gone fishing")
    _, alice_got = await after("JOIN #a", bob, alice)
    assert [masked(line) for line in alice_got] == [
        f"@msgid=ID :{prefix('bob')} JOIN #a", f":{prefix('bob')} AWAY :gone fishing"]


# -- account-tag -------------------------------------------------------------------------------


async def register_account(client: RawClient, password: str = "sekrit123") -> None:
    await client.send(f"REGISTER * * {password}")
    await client.expect("900", client.nick)
    await client.until_pong()


async def test_account_tag_names_the_senders_account(capped):
    alice = await capped("alice", "", "#a")
    bob = await capped("bob", "account-tag", "#a")
    carol = await capped("carol", "", "#a")
    _, bob_got, carol_got = await after("PRIVMSG #a :anon", alice, bob, carol)
    assert bob_got == [f":{prefix('alice')} PRIVMSG #a anon"]  # no account: no tag
    await register_account(alice)
    _, bob_got, carol_got = await after("PRIVMSG #a :known", alice, bob, carol)
    assert bob_got == [f"@account=alice :{prefix('alice')} PRIVMSG #a known"]
    assert carol_got == [f":{prefix('alice')} PRIVMSG #a known"]


async def test_tags_in_one_line_for_all_tag_caps(capped):
    alice = await capped("alice", "", "#a")
    bob = await capped("bob", "server-time message-tags account-tag", "#a")
    await register_account(alice)
    await alice.send("MODE alice +B")
    _, bob_got = await after("PRIVMSG #a :all", alice, bob)
    assert [masked(line) for line in bob_got] == [
        f"@time=T;msgid=ID;bot;account=alice :{prefix('alice')} PRIVMSG #a all"
    ]


# -- bot mode ----------------------------------------------------------------------------------


async def test_bot_mode_letter_is_in_isupport(capped):
    alice = await capped("alice")
    tokens = [t for m in alice.received if m.command == "005" for t in m.params[1:-1]]
    assert "BOT=B" in tokens


async def test_bot_tag_comes_with_message_tags_and_whois_says_335(capped):
    robot = await capped("robot", "", "#a")
    bob = await capped("bob", "message-tags", "#a")
    carol = await capped("carol", "", "#a")
    await robot.send("MODE robot +B")
    await robot.expect("MODE", "robot", "+B")
    _, bob_got, carol_got = await after("PRIVMSG #a :beep", robot, bob, carol)
    assert [masked(line) for line in bob_got] == [f"@msgid=ID;bot :{prefix('robot')} PRIVMSG #a beep"]
    assert carol_got == [f":{prefix('robot')} PRIVMSG #a beep"]
    await carol.send("WHOIS robot")
    assert (await carol.expect("335", "carol", "robot")).params[-1] == "is a bot"


# -- echo-message ------------------------------------------------------------------------------


async def test_echo_message_returns_channel_messages_with_the_same_msgid(capped):
    alice = await capped("alice", "echo-message message-tags", "#a")
    bob = await capped("bob", "message-tags", "#a")
    alice_got, bob_got = await after("PRIVMSG #a :echo", alice, bob)
    assert [masked(line) for line in alice_got] == [f"@msgid=ID :{prefix('alice')} PRIVMSG #a echo"]
    assert alice_got == bob_got  # the very same bytes, msgid included


async def test_echo_message_returns_private_messages_notices_and_tagmsg(capped):
    alice = await capped("alice", "echo-message message-tags")
    bob = await capped("bob", "message-tags")
    for line, command in (("PRIVMSG bob :psst", "PRIVMSG bob psst"),
                          ("NOTICE bob :note", "NOTICE bob note"),
                          ("@+typing=active TAGMSG bob", "TAGMSG bob")):
        alice_got, bob_got = await after(line, alice, bob)
        assert len(alice_got) == 1 and masked(alice_got[0]).endswith(f":{prefix('alice')} {command}")
        assert alice_got == bob_got


async def test_echo_message_without_tags_and_no_echo_without_the_cap(capped):
    alice = await capped("alice", "echo-message", "#a")
    bob = await capped("bob", "", "#a")
    alice_got, bob_got = await after("PRIVMSG #a :plain", alice, bob)
    assert alice_got == bob_got == [f":{prefix('alice')} PRIVMSG #a plain"]
    alice_got, _ = await after("PRIVMSG #a :plain", bob, alice)
    assert alice_got == []  # bob has no echo-message


# -- multi-prefix, userhost-in-names ------------------------------------------------------------


async def names_of(client: RawClient, channel: str) -> list[str]:
    await client.until_pong()
    await client.send(f"NAMES {channel}")
    return [m.to_line() for m in await client.until_pong()]


async def opped_and_voiced_alice(capped, caps: str) -> RawClient:
    """alice (op and voice) and bob on #a; returns a client with `caps` on #a too."""
    alice = await capped("alice", "", "#a")
    await capped("bob", "", "#a")
    await alice.send("MODE #a +v alice")
    await alice.expect("MODE", "#a", "+v", "alice")
    return await capped("carol", caps, "#a")


async def test_names_without_multi_prefix_shows_the_highest_prefix(capped):
    carol = await opped_and_voiced_alice(capped, "")
    assert await names_of(carol, "#a") == [
        ":irc.test 353 carol = #a :@alice bob carol",
        ":irc.test 366 carol #a :End of /NAMES list",
    ]


async def test_names_with_multi_prefix_shows_every_prefix(capped):
    carol = await opped_and_voiced_alice(capped, "multi-prefix")
    assert await names_of(carol, "#a") == [
        ":irc.test 353 carol = #a :@+alice bob carol",
        ":irc.test 366 carol #a :End of /NAMES list",
    ]


async def test_who_and_whois_with_and_without_multi_prefix(capped):
    carol = await opped_and_voiced_alice(capped, "multi-prefix")
    dave = await capped("dave", "", "#a")
    for client, flags, channels in ((carol, "H@+", "@+#a"), (dave, "H@", "@#a")):
        await client.send("WHO #a")
        who = await client.expect("352", client.nick, "#a", "~user", HOST, "irc.test", "alice")
        assert who.params[6] == flags
        await client.send("WHOIS alice")
        assert (await client.expect("319", client.nick, "alice")).params[-1] == channels


async def test_names_with_userhost_in_names(capped):
    carol = await opped_and_voiced_alice(capped, "userhost-in-names")
    assert await names_of(carol, "#a") == [
        f":irc.test 353 carol = #a :@{prefix('alice')} {prefix('bob')} {prefix('carol')}",
        ":irc.test 366 carol #a :End of /NAMES list",
    ]


async def test_names_with_multi_prefix_and_userhost_in_names(capped):
    carol = await opped_and_voiced_alice(capped, "multi-prefix userhost-in-names")
    assert (await names_of(carol, "#a"))[0] == (
        f":irc.test 353 carol = #a :@+{prefix('alice')} {prefix('bob')} {prefix('carol')}"
    )


# -- extended-join -------------------------------------------------------------------------------


async def test_extended_join_with_and_without_the_cap(capped):
    alice = await capped("alice", "extended-join", "#a")
    carol = await capped("carol", "", "#a")
    dave = await capped("dave", "extended-join server-time", "#a")
    bob = await capped("bob")
    bob_got, alice_got, carol_got, dave_got = await after("JOIN #a", bob, alice, carol, dave)
    assert bob_got[0] == f":{prefix('bob')} JOIN #a"
    assert alice_got == [f":{prefix('bob')} JOIN #a * :Real bob"]
    assert carol_got == [f":{prefix('bob')} JOIN #a"]
    assert [masked(line) for line in dave_got] == [f"@time=T :{prefix('bob')} JOIN #a * :Real bob"]
    await register_account(bob)
    await bob.send("PART #a")
    bob_got, alice_got, carol_got = await after("JOIN #a", bob, alice, carol)
    assert alice_got == [f":{prefix('bob')} JOIN #a bob :Real bob"]
    assert carol_got == [f":{prefix('bob')} JOIN #a"]


async def test_extended_join_shows_the_joiner_its_own_join(capped):
    alice = await capped("alice", "extended-join")
    (got,) = await after("JOIN #a", alice)
    assert got[0] == f":{prefix('alice')} JOIN #a * :Real alice"


# -- away-notify ---------------------------------------------------------------------------------


async def test_away_notify_tells_those_sharing_a_channel(capped):
    alice = await capped("alice", "away-notify", "#a")
    carol = await capped("carol", "", "#a")
    dave = await capped("dave", "away-notify")  # shares no channel
    bob = await capped("bob", "away-notify", "#a")
    bob_got, alice_got, carol_got, dave_got = await after("AWAY :lunch", bob, alice, carol, dave)
    assert bob_got == [":irc.test 306 bob :You have been marked as being away"]
    assert alice_got == [f":{prefix('bob')} AWAY lunch"]
    assert carol_got == [] and dave_got == []
    bob_got, alice_got, carol_got = await after("AWAY", bob, alice, carol)
    assert bob_got == [":irc.test 305 bob :You are no longer marked as being away"]
    assert alice_got == [f":{prefix('bob')} AWAY"]
    assert carol_got == []


async def test_away_notify_sends_away_after_the_join_of_an_away_user(capped):
    alice = await capped("alice", "away-notify", "#a")
    carol = await capped("carol", "", "#a")
    bob = await capped("bob", "away-notify")
    await bob.send("AWAY :gone fishing")
    bob_got, alice_got, carol_got = await after("JOIN #a", bob, alice, carol)
    assert alice_got == [f":{prefix('bob')} JOIN #a", f":{prefix('bob')} AWAY :gone fishing"]
    assert carol_got == [f":{prefix('bob')} JOIN #a"]
    assert not [line for line in bob_got if " AWAY" in line]


# -- account-notify ------------------------------------------------------------------------------


async def test_account_notify_on_login_and_logout(capped):
    alice = await capped("alice", "account-notify", "#a")
    carol = await capped("carol", "", "#a")
    bob = await capped("bob", "account-notify", "#a")
    bob_got, alice_got, carol_got = await after("REGISTER * * sekrit123", bob, alice, carol)
    assert f":{prefix('bob')} ACCOUNT bob" in bob_got  # itself included
    assert any(" 900 bob " in line for line in bob_got)
    assert alice_got == [f":{prefix('bob')} ACCOUNT bob"]
    assert carol_got == []
    await settled(bob, alice, carol)
    start = len(bob.received)
    await bob.send("PRIVMSG NickServ :LOGOUT")  # NickServ answers in a task of its own
    await bob.expect("901", "bob")
    bob_got = [m.to_line() for m in bob.received[start:]]
    alice_got = [m.to_line() for m in await alice.until_pong()]
    carol_got = [m.to_line() for m in await carol.until_pong()]
    assert bob_got == [
        f":{prefix('bob')} ACCOUNT *", f":irc.test 901 bob {prefix('bob')} :You are now logged out",
    ]
    assert alice_got == [f":{prefix('bob')} ACCOUNT *"]
    assert carol_got == []


# -- invite-notify -------------------------------------------------------------------------------


async def test_invite_notify_tells_channel_operators_with_the_cap(capped):
    alice = await capped("alice", "invite-notify", "#a")  # op
    dave = await capped("dave", "invite-notify", "#a")
    carol = await capped("carol", "", "#a")
    frank = await capped("frank", "invite-notify", "#a")  # not an op
    await alice.send("MODE #a +oo dave carol")
    await alice.expect("MODE", "#a", "+oo")
    await alice.send("MODE #a +i")
    await alice.expect("MODE", "#a", "+i")
    eve = await capped("eve")
    alice_got, dave_got, carol_got, frank_got, eve_got = await after(
        "INVITE eve #a", alice, dave, carol, frank, eve)
    assert alice_got == [":irc.test 341 alice eve #a"]
    assert dave_got == [f":{prefix('alice')} INVITE eve #a"]
    assert carol_got == [] and frank_got == []
    assert eve_got == [f":{prefix('alice')} INVITE eve #a"]


# -- setname, standard-replies ---------------------------------------------------------------------


async def test_setname_tells_the_sender_and_those_sharing_a_channel(capped):
    alice = await capped("alice", "setname", "#a")
    carol = await capped("carol", "", "#a")
    bob = await capped("bob", "setname", "#a")
    bob_got, alice_got, carol_got = await after("SETNAME :Robert Bobson", bob, alice, carol)
    assert bob_got == alice_got == [f":{prefix('bob')} SETNAME :Robert Bobson"]
    assert carol_got == []
    await carol.send("WHOIS bob")
    assert (await carol.expect("311", "carol", "bob")).params[-1] == "Robert Bobson"


async def test_setname_without_the_cap_is_silent_but_works(capped):
    alice = await capped("alice", "setname", "#a")
    bob = await capped("bob", "", "#a")
    bob_got, alice_got = await after("SETNAME :Quiet Bob", bob, alice)
    assert bob_got == []
    assert alice_got == [f":{prefix('bob')} SETNAME :Quiet Bob"]


async def test_setname_refuses_an_invalid_realname_with_fail(capped):
    alice = await capped("alice", "setname", "#a")
    bob = await capped("bob", "setname", "#a")
    bob_got, alice_got = await after("SETNAME :" + "x" * 251, bob, alice)
    assert bob_got == [":irc.test FAIL SETNAME INVALID_REALNAME :Realname is not valid"]
    assert alice_got == []
    (bob_got,) = await after("SETNAME :", bob)
    assert bob_got == [":irc.test FAIL SETNAME INVALID_REALNAME :Realname is not valid"]
    await bob.send("WHOIS bob")
    assert (await bob.expect("311", "bob", "bob")).params[-1] == "Real bob"


def test_realm_set_realname_is_an_event():
    from support import RecordingMind

    from words.realm import InMemoryWordsRealm
    from words.realm.events import RealnameChanged

    realm = InMemoryWordsRealm("example.com", create_group_on_request=True)
    seen = []
    realm.subscribe(seen.append)
    mind = RecordingMind()
    user = realm.sign_on("bob", mind, realname="Bob")
    realm.set_realname(user, "Robert")
    realm.set_realname(user, "Robert")  # no change, no event
    assert user.realname == "Robert"
    assert [e.realname for e in seen if isinstance(e, RealnameChanged)] == ["Robert"]


# -- batch, labeled-response ---------------------------------------------------------------------

LABELED = "batch labeled-response"


async def labeled(client: RawClient, line: str) -> list[str]:
    """What the server answers to `line` (read up to a PONG)."""
    await client.until_pong()
    await client.send(line)
    return [m.to_line() for m in await client.until_pong()]


async def pong(client: RawClient, line: str) -> str:
    """The next line after sending `line` (a PING: until_pong cannot tell PONGs apart)."""
    await client.until_pong()
    await client.send(line)
    return (await client.read_message()).to_line()


async def test_a_labeled_command_with_one_reply_gets_the_label_on_it(capped):
    alice = await capped("alice", LABELED)
    assert await pong(alice, "@label=p1 PING tok") == "@label=p1 :irc.test PONG irc.test tok"
    assert await labeled(alice, "@label=n1 PRIVMSG nobody :hi") == [
        "@label=n1 :irc.test 401 alice nobody :No such nick/channel"
    ]
    assert await labeled(alice, "@label=c1 CAP REQ :multi-prefix") == [
        "@label=c1 :irc.test CAP alice ACK multi-prefix"
    ]


async def test_a_labeled_command_without_reply_gets_a_labeled_ack(capped):
    alice = await capped("alice", LABELED, "#a")
    bob = await capped("bob", "message-tags", "#a")
    alice_got, bob_got = await after("@label=m1 PRIVMSG #a :hello", alice, bob)
    assert alice_got == ["@label=m1 :irc.test ACK"]
    assert [masked(line) for line in bob_got] == [f"@msgid=ID :{prefix('alice')} PRIVMSG #a hello"]
    assert await labeled(alice, "@label=a1 PONG :whatever") == ["@label=a1 :irc.test ACK"]


async def test_a_labeled_message_with_echo_message_labels_the_echo(capped):
    alice = await capped("alice", f"{LABELED} echo-message message-tags", "#a")
    bob = await capped("bob", "message-tags", "#a")
    alice_got, bob_got = await after("@label=e1;+draft/x=1 PRIVMSG #a :hello", alice, bob)
    assert [masked(line) for line in alice_got] == [
        f"@label=e1;+draft/x=1;msgid=ID :{prefix('alice')} PRIVMSG #a hello"
    ]
    assert [masked(line) for line in bob_got] == [
        f"@+draft/x=1;msgid=ID :{prefix('alice')} PRIVMSG #a hello"
    ]
    assert tag(alice_got[0], "msgid") == tag(bob_got[0], "msgid")


async def test_several_replies_come_in_a_labeled_response_batch(capped):
    alice = await capped("alice", LABELED)
    got = await labeled(alice, "@label=w1 WHOIS alice")
    start = got[0]
    assert start.startswith("@label=w1 :irc.test BATCH +") and start.endswith(" labeled-response")
    ref = start.split("BATCH +", 1)[1].split()[0]
    assert got[-1] == f":irc.test BATCH -{ref}"
    body = got[1:-1]
    assert body[0] == f"@batch={ref} :irc.test 311 alice alice ~user {HOST} * :Real alice"
    assert body[-1] == f"@batch={ref} :irc.test 318 alice alice :End of /WHOIS list"
    assert all(line.startswith(f"@batch={ref} ") for line in body)


async def test_a_labeled_join_batches_the_join_and_names_others_see_no_label(capped):
    bob = await capped("bob", "server-time", "#a")
    alice = await capped("alice", f"{LABELED} server-time")
    alice_got, bob_got = await after("@label=j1 JOIN #a", alice, bob)
    ref = alice_got[0].split("BATCH +", 1)[1].split()[0]
    assert [masked(line) for line in alice_got] == [
        f"@label=j1 :irc.test BATCH +{ref} labeled-response",
        f"@batch={ref};time=T :{prefix('alice')} JOIN #a",
        f"@batch={ref} :irc.test 353 alice = #a :@bob alice",
        f"@batch={ref} :irc.test 366 alice #a :End of /NAMES list",
        f":irc.test BATCH -{ref}",
    ]
    assert [masked(line) for line in bob_got] == [f"@time=T :{prefix('alice')} JOIN #a"]
    # Each batch has a reference of its own.
    second = await labeled(alice, "@label=w2 WHOIS alice")
    assert second[0].split("BATCH +", 1)[1].split()[0] != ref


async def test_labels_are_ignored_without_labeled_response_and_batch(capped):
    plain = await capped("plain", "message-tags")
    assert await pong(plain, "@label=x PING tok") == ":irc.test PONG irc.test tok"
    assert [masked(line) for line in await labeled(plain, "@label=x PRIVMSG plain :me")] == [
        f"@msgid=ID :{prefix('plain')} PRIVMSG plain me"
    ]
    no_batch = await capped("nobatch", "labeled-response")
    assert await pong(no_batch, "@label=x PING tok") == ":irc.test PONG irc.test tok"


async def test_a_labeled_unknown_command_and_error_are_labeled(capped):
    alice = await capped("alice", LABELED)
    assert await labeled(alice, "@label=u1 FROBNICATE") == [
        "@label=u1 :irc.test 421 alice FROBNICATE :Unknown command"
    ]
    assert await labeled(alice, "@label=u2 SETNAME :") == [
        "@label=u2 :irc.test FAIL SETNAME INVALID_REALNAME :Realname is not valid"
    ]


async def test_a_command_answered_later_gets_its_label_on_the_late_answer(capped):
    # REGISTER hashes off the loop: its answer, and the 900 its login causes, come later.
    alice = await capped("alice", f"{LABELED} draft/account-registration")
    got = await labeled(alice, "@label=r1 REGISTER * * sekrit123")
    ref = got[0].split("BATCH +", 1)[1].split()[0]
    assert got == [
        f"@label=r1 :irc.test BATCH +{ref} labeled-response",
        f"@batch={ref} :irc.test REGISTER SUCCESS alice :Account created",
        f"@batch={ref} :irc.test 900 alice {prefix('alice')} alice :You are now logged in as alice",
        f":irc.test BATCH -{ref}",
    ]
    # A refusal found later is labelled too (one line: no batch).
    assert await labeled(alice, "@label=r2 REGISTER * * sekrit123") == [
        "@label=r2 :irc.test FAIL REGISTER ALREADY_AUTHENTICATED alice :You are already logged in as alice"
    ]


async def test_a_late_answer_without_a_label_is_sent_as_it_is(capped):
    alice = await capped("alice", f"{LABELED} draft/account-registration")
    assert await labeled(alice, "REGISTER * * sekrit123") == [
        ":irc.test REGISTER SUCCESS alice :Account created",
        f":irc.test 900 alice {prefix('alice')} alice :You are now logged in as alice",
    ]


async def labeled_later(client: RawClient, line: str) -> list[str]:
    """The labelled answer to `line`, read to its end: a service answers in a task of its
    own, so a PING sent right behind can be answered first. Then nothing else came."""
    await client.until_pong()
    await client.send(line)
    got: list[str] = []
    while True:
        text = (await client.read_message()).to_line()
        got.append(text)
        if got[0].startswith("@label=") and " BATCH +" in got[0]:
            ref = got[0].split("BATCH +", 1)[1].split()[0]
            if text == f":irc.test BATCH -{ref}":
                break
        elif text.startswith("@label="):
            break
    assert await client.until_pong() == []  # no stray line, no ACK afterwards
    return got


async def test_a_labeled_message_to_a_service_gets_its_replies_labeled(capped):
    alice = await capped("alice", LABELED)
    nickserv = "NickServ!services@irc.test"
    # One reply: labelled; several: a labeled-response batch.
    assert await labeled_later(alice, "@label=n1 PRIVMSG NickServ :FROB") == [
        (f"@label=n1 :{nickserv} NOTICE alice :Unknown command FROB. Send HELP for the list of "
         "commands.")]
    got = await labeled_later(alice, "@label=n2 PRIVMSG NickServ :HELP REGISTER")
    ref = got[0].split("BATCH +", 1)[1].split()[0]
    assert got == [
        f"@label=n2 :irc.test BATCH +{ref} labeled-response",
        (f"@batch={ref} :{nickserv} NOTICE alice :REGISTER <password>: register your current "
         "nick as an account, and log in to it."),
        (f"@batch={ref} :{nickserv} NOTICE alice :The nick then belongs to the account: log in "
         "with SASL, PASS nick:password or IDENTIFY."),
        f":irc.test BATCH -{ref}",
    ]
    # What the command causes comes with it: REGISTER's notice and the 900 of the login.
    got = await labeled_later(alice, "@label=n3 PRIVMSG NickServ :REGISTER sekrit123")
    ref = got[0].split("BATCH +", 1)[1].split()[0]
    assert got[0] == f"@label=n3 :irc.test BATCH +{ref} labeled-response"
    logged_in = f":irc.test 900 alice {prefix('alice')} alice :You are now logged in as alice"
    assert f"@batch={ref} {logged_in}" in got
    assert got[-1] == f":irc.test BATCH -{ref}"
    assert all(line.startswith(f"@batch={ref} ") for line in got[1:-1]) and len(got) > 3


async def test_a_labeled_message_to_a_service_with_echo_message(capped):
    alice = await capped("alice", f"{LABELED} echo-message")
    got = await labeled_later(alice, "@label=e1 PRIVMSG NickServ :FROB")
    ref = got[0].split("BATCH +", 1)[1].split()[0]
    assert got == [
        f"@label=e1 :irc.test BATCH +{ref} labeled-response",
        f"@batch={ref} :{prefix('alice')} PRIVMSG NickServ FROB",
        (f"@batch={ref} :NickServ!services@irc.test NOTICE alice :Unknown command FROB. Send "
         "HELP for the list of commands."),
        f":irc.test BATCH -{ref}",
    ]


async def test_a_labeled_oper_gets_its_replies_labeled(start_server):
    from words.config import Oper
    from words.cred import DEFAULT_HASHER

    server = await start_server(opers=(Oper("root", DEFAULT_HASHER.hash("sesame"),
                                            hosts=("~user@127.0.0.1",)),))
    alice = await RawClient.connect(server.port)
    try:
        await negotiate(alice, "alice", LABELED)
        # OPER checks the password off the loop: the late answer, with the MODE it causes.
        got = await labeled(alice, "@label=o1 OPER root sesame")
        ref = got[0].split("BATCH +", 1)[1].split()[0]
        assert got == [
            f"@label=o1 :irc.test BATCH +{ref} labeled-response",
            f"@batch={ref} :alice MODE alice +o",
            f"@batch={ref} :irc.test 381 alice :You are now an IRC operator",
            f":irc.test BATCH -{ref}",
        ]
        assert await labeled(alice, "@label=o2 OPER root wrong") == [
            "@label=o2 :irc.test 464 alice :Password incorrect"]
    finally:
        await alice.close()


def test_label_lines_escapes_the_label():
    from words.irc.tags import label_lines

    assert label_lines(b"", "a b;c", "L1", "irc.test") == b"@label=a\\sb\\:c :irc.test ACK\r\n"


# -- cap-notify -------------------------------------------------------------------------------------


async def test_cap_notify_cannot_be_disabled_after_cap_ls_302(capped):
    alice = await capped("alice")  # CAP LS 302
    await alice.send("CAP REQ :-cap-notify")
    await alice.expect("CAP", "alice", "ACK", "-cap-notify")
    await alice.send("CAP LIST")
    assert "cap-notify" in (await alice.expect("CAP", "alice", "LIST")).params[-1].split()


async def test_cap_new_and_del_reach_cap_notify_clients(server, capped, connect):
    from dataclasses import replace

    from words.irc import caps

    alice = await capped("alice", "multi-prefix")
    old = await connect()
    await old.send("CAP LS")
    await old.expect("CAP", "*", "LS")
    await old.send("CAP REQ :draft/account-registration")
    await old.expect("CAP", "*", "ACK")
    await old.send("NICK old")
    await old.send("USER old 0 * :Old")
    await old.send("CAP END")
    await old.expect("376", "old")
    await settled(alice, old)

    before = caps.offered(server)
    server.config = replace(server.config, services=replace(server.config.services, registration=False))
    caps.announce_changes(server, before)
    assert [m.to_line() for m in await alice.until_pong()] == [
        ":irc.test CAP alice DEL draft/account-registration"
    ]
    assert await old.until_pong() == []  # no cap-notify: nothing said, but the cap is gone
    assert not [c for c in server.connections if "draft/account-registration" in c.caps]

    before = caps.offered(server)
    server.config = replace(server.config, services=replace(server.config.services, registration=True))
    caps.announce_changes(server, before)
    assert [m.to_line() for m in await alice.until_pong()] == [
        ":irc.test CAP alice NEW draft/account-registration=before-connect,custom-account-name"
    ]
    before = caps.offered(server)
    caps.announce_changes(server, before)  # nothing changed: nothing said
    assert await alice.until_pong() == []
