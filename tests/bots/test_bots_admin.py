"""admin and help: owner commands by hostmask, ignore lists, help from docstrings."""

from __future__ import annotations


async def test_owner_commands(bot_harness, raw_client, irc_server):
    h = await bot_harness("admin", "dice", owner_masks=["tester!*@*"], server=irc_server)
    assert await h.say("!plugins") == ["tester: loaded: admin, dice"]
    mark = h.bot.mark()
    await h.say("!join #second")
    assert await h.bot.wait_event("joined", start=mark) == ("#second",)
    await h.say("!part #second")
    await h.bot.wait_event("left", start=mark)
    assert await h.say("!unload dice") == ["tester: unloaded dice"]
    assert await h.say("!roll 1d1") == []
    assert await h.say("!load dice") == ["tester: loaded dice"]
    assert await h.say("!reload dice") == ["tester: reloaded dice"]
    assert len([x for x in h.bot.handlers if x.func.__name__ == "roll"]) == 1
    assert await h.say("!load no_such_plugin_xyz") == [
        "tester: load no_such_plugin_xyz failed: ModuleNotFoundError: No module named 'no_such_plugin_xyz'"]
    assert await h.say("!unload admin") == ["tester: unloading admin would lock you out; reload it instead"]


async def test_others_are_refused(bot_harness, raw_client):
    h = await bot_harness("admin", owner_masks=["tester!*@*"])
    bob = await raw_client(h.server.port, "bob")
    assert await h.say("!join #mine", to="testbot", user=bob) == ["Only the bot's admins may do that."]
    assert await h.say("!quit", to="testbot", user=bob) == ["Only the bot's owners may do that."]
    assert h.bot.transport is not None


async def test_ignore_is_persisted(bot_harness, raw_client, tmp_path):
    db = str(tmp_path / "admin.sqlite")
    h = await bot_harness("admin", "dice", owner_masks=["tester!*@*"], storage=db)
    bob = await raw_client(h.server.port, "bob")
    assert await h.say("!roll 1d1", to="testbot", user=bob) == ["1d1 = 1 (1)"]
    assert await h.say("!ignore bob") == ["tester: ignoring bob!*@*"]
    assert await h.say("!roll 1d1", to="testbot", user=bob) == []
    await h.bot.close()
    h2 = await bot_harness("admin", "dice", owner_masks=["tester!*@*"], storage=db, nick="bot2")
    assert h2.bot.ignored == ["bob!*@*"]
    assert await h2.say("!unignore bob") == ["tester: no longer ignoring bob!*@*"]
    assert h2.bot.ignored == []


async def test_help_from_docstrings(bot_harness, irc_server):
    h = await bot_harness("help", "dice", "calc", server=irc_server)
    [reply] = await h.say("!help")
    assert reply.startswith("tester: commands: c, calc, choose, commands, dice, help, pick, roll")
    assert await h.say("!help roll") == [
        "tester: !roll 3d6+2: roll dice (at most 100 dice of 1000 sides)."]
    assert await h.say("!help !calc") == [
        "tester: !calc 2**10 / (3 + sqrt(16)): arithmetic with + - * / // % ** and math functions."]
    assert await h.say("!help nope") == ["tester: no command 'nope'"]
