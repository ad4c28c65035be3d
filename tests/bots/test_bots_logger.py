"""logger: per-channel daily files with timestamps, written off the loop."""

from __future__ import annotations

import re
from datetime import UTC, datetime


async def test_logs_a_channel_day(bot_harness, raw_client, tmp_path, irc_server):
    logs = tmp_path / "logs"
    h = await bot_harness("logger", settings={"logger": {"dir": str(logs)}}, server=irc_server)
    bob = await raw_client(h.server.port, "bob")
    mark = h.bot.mark()
    await bob.send("JOIN #test")
    await h.bot.wait_event("user_joined", start=mark)
    await h.say("hello, log")
    await h.say("\x01ACTION waves\x01")
    await h.say("caf\xe9".encode("latin-1").decode("latin-1"))
    h.bot.describe("#test", "logs its own lines too")
    await bob.send("NICK robert")
    await h.bot.wait_event("user_renamed")
    mark = h.bot.mark()
    await bob.send("PART #test :bye")
    await h.bot.wait_event("user_left", start=mark)
    await h.settle()
    await h.bot.unload_plugin("logger")  # writes what is queued
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    [path] = list(logs.glob(f"*/{day}.log"))
    assert path.parent.name == "#test"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in lines)
    bodies = [line[11:] for line in lines]
    assert [b.split(" (")[0] for b in bodies[:3]] == ["--> testbot", "--> tester", "--> bob"]
    assert bodies[2].endswith("@127.0.0.1) joined #test")
    assert bodies[3:] == [
        "<tester> hello, log",
        "* tester waves",
        "<tester> café",
        "* testbot logs its own lines too",
        "--- bob is now known as robert",
        "<-- robert left #test (bye)",
    ]


def test_channel_names_cannot_escape_the_directory(tmp_path):
    from bots.plugins.logger import _Writer

    writer = _Writer(tmp_path)
    for name in ("#../../etc", "#a/b", "&x"):
        path = writer.path(name, "2026-01-01").resolve()
        assert path.is_relative_to(tmp_path.resolve())
        assert path.parent.parent == tmp_path.resolve()
