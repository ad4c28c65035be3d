"""IRCClient against real servers: registration, events, state, CTCP, bad bytes."""

from __future__ import annotations

import pytest

from bots.client import IRCClient
from bots.testing import RecordingClient


def fast_client(nick: str = "bot", **kwargs) -> RecordingClient:
    kwargs.setdefault("burst", 20)
    kwargs.setdefault("rate", 100)
    return RecordingClient(nick, **kwargs)


async def test_signs_on_joins_and_tracks_members(irc_server, run_bot, raw_client):
    bot = await run_bot(fast_client("bot"), irc_server.port)
    assert bot.registered and bot.is_signed_on
    assert bot.userhost and "@" in bot.userhost  # learned from 001 or our JOIN
    bot.join("botland")  # no '#': Twisted's join adds it
    await bot.wait_event("joined", lambda ch: ch == "#botland")
    alice = await raw_client(irc_server.port, "alice")
    mark = bot.mark()
    await alice.send("JOIN #botland")
    assert await bot.wait_event("user_joined", start=mark) == ("alice", "#botland")
    chan = bot.channels[bot.fold("#botland")]
    assert chan.members[bot.fold("bot")] == "@"  # the creator is op
    assert chan.members[bot.fold("alice")] == ""
    assert bot.is_chanop("#botland", "BOT") and not bot.is_chanop("#botland", "alice")
    assert bot.users[bot.fold("alice")].host


async def test_messages_actions_notices(irc_server, run_bot, raw_client):
    bot = await run_bot(fast_client("bot"), irc_server.port)
    bot.join("#talk")
    await bot.wait_event("joined")
    alice = await raw_client(irc_server.port, "alice")
    await alice.send("JOIN #talk")
    await bot.wait_event("user_joined")
    await alice.send("PRIVMSG #talk :hello all")
    user, channel, message = await bot.wait_event("privmsg")
    assert user.startswith("alice!") and "@" in user
    assert (channel, message) == ("#talk", "hello all")
    await alice.send("PRIVMSG bot :psst")
    args = await bot.wait_event("privmsg", lambda u, c, m: m == "psst")
    assert args[1] == "bot"  # the bot's nick for a private message, as Twisted
    await alice.send("PRIVMSG #talk :\x01ACTION waves\x01")
    args = await bot.wait_event("action")
    assert args[1:] == ("#talk", "waves")
    await alice.send("NOTICE #talk :heads up")
    args = await bot.wait_event("noticed")
    assert args[1:] == ("#talk", "heads up")


async def test_renames_topics_parts_quits(irc_server, run_bot, raw_client):
    bot = await run_bot(fast_client("bot"), irc_server.port)
    bot.join("#state")
    await bot.wait_event("joined")
    alice = await raw_client(irc_server.port, "alice")
    await alice.send("JOIN #state")
    await bot.wait_event("user_joined")
    await alice.send("NICK alicia")
    assert await bot.wait_event("user_renamed") == ("alice", "alicia")
    chan = bot.channels[bot.fold("#state")]
    assert bot.fold("alicia") in chan.members and bot.fold("alice") not in chan.members
    bot.topic("#state", "all about state")
    await bot.wait_event("topic_updated", lambda u, c, t: t == "all about state")
    assert chan.topic == "all about state"
    await alice.send("PART #state :bye")
    assert await bot.wait_event("user_left") == ("alicia", "#state")
    assert bot.fold("alicia") not in chan.members
    await alice.send("JOIN #state")
    mark = bot.mark()
    await alice.send("QUIT :gone")
    nick, message = await bot.wait_event("user_quit", start=mark)
    assert nick == "alicia" and "gone" in message
    bot.set_nick("robot")
    assert await bot.wait_event("nick_changed") == ("robot",)
    assert bot.nickname == "robot"
    bot.leave("#state")
    assert await bot.wait_event("left") == ("#state",)
    assert bot.fold("#state") not in bot.channels


async def test_nick_in_use_appends_underscore(irc_server, run_bot, raw_client):
    await raw_client(irc_server.port, "taken")
    bot = await run_bot(fast_client("taken"), irc_server.port)
    assert bot.nickname == "taken_"


async def test_isupport_parsed(irc_server, run_bot):
    bot = await run_bot(fast_client("bot"), irc_server.port)
    modes, symbols = bot.isupport.prefix_modes, bot.isupport.prefix_symbols
    assert symbols[modes.index("o")] == "@" and symbols[modes.index("v")] == "+"
    assert bot.isupport.nicklen == 30
    assert "#" in bot.isupport.chantypes


async def test_invalid_utf8_from_a_raw_client(irc_server, run_bot, raw_client):
    bot = await run_bot(fast_client("bot"), irc_server.port)
    bot.join("#bytes")
    await bot.wait_event("joined")
    alice = await raw_client(irc_server.port, "alice")
    await alice.send("JOIN #bytes")
    await bot.wait_event("user_joined")
    await alice.send("PRIVMSG #bytes :caf\xe9 cr\xe8me".encode("latin-1"))
    await alice.send("PRIVMSG #bytes :still here")
    _, _, message = await bot.wait_event("privmsg", lambda u, c, m: "caf" in m)
    assert message == "café crème"  # latin-1 fallback: read, never raised
    await bot.wait_event("privmsg", lambda u, c, m: m == "still here")


async def test_ctcp_replies_are_rate_limited(start_server, run_bot, raw_client):
    server = await start_server()
    await run_bot(fast_client("bot", ctcp_burst=2, ctcp_rate=0.01), server.port)
    alice = await raw_client(server.port, "alice")
    await alice.send("PRIVMSG bot :\x01VERSION\x01")
    reply = await alice.expect("NOTICE")
    assert reply.params[1].startswith("\x01VERSION words-bots")
    await alice.send("PRIVMSG bot :\x01PING 12345\x01")
    reply = await alice.expect("NOTICE")
    assert reply.params[1] == "\x01PING 12345\x01"
    for _ in range(5):
        await alice.send("PRIVMSG bot :\x01TIME\x01")
    # Sync through the bot: a PING to it is answered in order after the CTCPs.
    await alice.send("PRIVMSG bot :sync")
    got = await alice.until_pong()
    assert not [m for m in got if m.command == "NOTICE"]


async def test_plain_and_async_event_methods_and_errors(start_server, run_bot, raw_client):
    seen: list[str] = []

    class Bot(RecordingClient):
        def privmsg(self, user, channel, message):
            if message == "boom":
                raise RuntimeError("handler bug")
            seen.append("sync:" + message)

        async def noticed(self, user, channel, message):
            if message == "boom":
                raise RuntimeError("async handler bug")
            seen.append("async:" + message)

    server = await start_server()
    bot = await run_bot(Bot("bot", burst=20, rate=100), server.port)
    alice = await raw_client(server.port, "alice")
    for line in ("PRIVMSG bot :boom", "NOTICE bot :boom", "PRIVMSG bot :ok", "NOTICE bot :ok"):
        await alice.send(line)
    await bot.wait_event("noticed", lambda u, c, m: m == "ok")
    for task in list(bot.tasks):
        await task
    assert seen == ["sync:ok", "async:ok"]
    assert bot.transport is not None  # errors never kill the connection


def test_send_refuses_bad_lines():
    client = IRCClient("bot")
    with pytest.raises(ValueError):
        client.send_line("PRIVMSG #x :a\r\nQUIT")
    with pytest.raises(ValueError):
        client.send_line("PRIVMSG #x :" + "a" * 600)


async def test_a_refused_join_is_reported_and_forgotten(irc_server, run_bot):
    bot = await run_bot(fast_client("bot"), irc_server.port)
    name = "#" + "x" * 60  # longer than either server's CHANNELLEN
    bot.join(name)
    channel, _ = await bot.wait_event("join_failed")
    assert bot.fold(channel) == bot.fold(name)
    assert bot.fold(name) not in bot.wanted_channels  # not rejoined after a reconnect
    bot.join("#fine")
    await bot.wait_event("joined")
