"""remind: durations, delivery, and surviving a restart of the bot."""

from __future__ import annotations

import pytest

from bots.plugins.remind import parse_duration


def test_parse_duration():
    assert parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("2D") == 172800
    for bad in ("10", "m", "1x", "1h 30m", "-1m", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)


async def test_reminder_is_delivered(bot_harness, irc_server):
    h = await bot_harness("remind", server=irc_server)
    assert await h.say("!remind in 1s stretch your legs") == ["tester: I'll remind you in 1s."]
    msg = await h.user.expect("PRIVMSG", "#test", timeout=10)
    assert msg.params[1] == "tester: reminder: stretch your legs"
    assert await h.bot.storage_for("remind").items() == []  # sent, then forgotten


async def test_refusals(bot_harness):
    h = await bot_harness("remind", settings={"remind": {"max_per_nick": 1, "max_seconds": 3600}})
    assert await h.say("!remind soon do it") == ["tester: not a duration: 'soon' (try 10m, 1h30m, 2d)"]
    assert await h.say("!in 2h tea") == ["tester: that is too far away"]
    assert await h.say("!in 30m tea") == ["tester: I'll remind you in 30m."]
    assert await h.say("!in 40m more tea") == ["tester: you have too many reminders waiting"]
    assert await h.say("!remind") == ["tester: usage: remind in 10m text"]


async def test_reminders_survive_a_restart(bot_harness, tmp_path):
    db = str(tmp_path / "remind.sqlite")
    h = await bot_harness("remind", storage=db)
    assert await h.say("!in 1s survive") == ["tester: I'll remind you in 1s."]
    await h.bot.close()  # unloads: the pending reminder's task is cancelled, the row stays
    assert len(await _items(db)) == 1
    h2 = await bot_harness("remind", storage=db, nick="newbot")  # same channel, new process state
    msg = await h2.user.expect("PRIVMSG", "#test", timeout=10)
    assert msg.nick == "newbot" and msg.params[1] == "tester: reminder: survive"


async def _items(db):
    from bots.storage import Storage

    storage = Storage(db)
    try:
        return await storage.plugin("remind").items()
    finally:
        storage.close()
