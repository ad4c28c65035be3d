"""Bot: decorators, contexts, permissions, plugin load/unload/reload, storage, intervals."""

from __future__ import annotations

import asyncio
import sys
import textwrap

import pytest

PLUGIN = '''
import asyncio
from bots import command, rule, event, interval, require_owner, require_chanop

calls = []

@command("hello", "hi")
def hello(ctx):
    "hello: greets you"
    ctx.reply("hello " + (ctx.args or "you") + "{suffix}")

@command("slow")
async def slow(ctx):
    await asyncio.sleep(0)
    ctx.say("done slowly")

@command("boom")
def boom(ctx):
    raise RuntimeError("plugin bug")

@rule(r"\\bcoffee\\b")
def coffee(ctx):
    ctx.action("pours " + ctx.sender + " a coffee")

@event("JOIN")
def greet(ctx):
    if ctx.sender != ctx.bot.nickname:
        ctx.say("welcome " + ctx.sender)

@command("secret")
@require_owner
def secret(ctx):
    ctx.reply("the owner may know")

@command("opsonly")
@require_chanop
def opsonly(ctx):
    ctx.reply("you are an op")

@command("count")
async def count(ctx):
    n = await ctx.storage.update("n", lambda v: v + 1, 0)
    ctx.reply(str(n))

@command("where")
def where(ctx):
    ctx.reply(f"channel={{ctx.channel}} target={{ctx.target}} prefix={{ctx.settings.get('x')}}")
'''


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    def write(name: str, suffix: str = "", extra: str = "") -> str:
        (tmp_path / f"{name}.py").write_text(PLUGIN.format(suffix=suffix) + textwrap.dedent(extra))
        return name

    yield write
    for name in list(sys.modules):
        if name.startswith("fw_plugin"):
            del sys.modules[name]


async def test_commands_by_prefix_by_nick_and_in_private(bot_harness, plugin_dir):
    h = await bot_harness(plugin_dir("fw_plugin_a"))
    assert await h.say("!hello world") == ["tester: hello world"]
    assert await h.say("testbot: hi") == ["tester: hello you"]
    assert await h.say("TestBot, hello there") == ["tester: hello there"]
    assert await h.say("hello without prefix") == []  # not addressed to the bot
    assert await h.pm("hello") == ["hello you"]  # private: no prefix needed, no "nick:"
    assert await h.say("!nosuch") == []


async def test_async_handlers_rules_actions_and_errors(bot_harness, plugin_dir):
    h = await bot_harness(plugin_dir("fw_plugin_b"))
    assert await h.say("!slow") == ["done slowly"]
    assert await h.say("!boom") == []  # logged, not fatal
    assert await h.say("who wants coffee?") == ["\x01ACTION pours tester a coffee\x01"]
    assert await h.say("!hello") == ["tester: hello you"]  # still alive


async def test_event_handlers(bot_harness, plugin_dir, raw_client):
    h = await bot_harness(plugin_dir("fw_plugin_c"))
    bob = await raw_client(h.server.port, "bob")
    mark = h.bot.mark()
    await bob.send("JOIN #test")
    await h.bot.wait_event("user_joined", lambda nick, chan: nick == "bob", start=mark)
    said = await h.settle()
    assert "welcome bob" in said


async def test_permissions_by_hostmask_and_chanop(bot_harness, plugin_dir, raw_client):
    h = await bot_harness(plugin_dir("fw_plugin_d"), owner_masks=["tester!*@*"])
    assert await h.say("!secret") == ["tester: the owner may know"]
    bob = await raw_client(h.server.port, "bob")
    mark = h.bot.mark()
    await bob.send("JOIN #test")
    await h.bot.wait_event("user_joined", lambda nick, chan: nick == "bob", start=mark)
    assert await h.settle() == ["welcome bob"]
    assert await h.settle(bob) == ["welcome bob"]
    assert await h.say("!secret", user=bob) == ["Only the bot's owners may do that."]
    # The bot created #test, so it is the op; tester is not.
    assert await h.say("!opsonly") == ["Only channel operators may do that."]


async def test_storage_persists_across_bots(bot_harness, plugin_dir, tmp_path, start_server):
    name = plugin_dir("fw_plugin_e")
    db = str(tmp_path / "shared.sqlite")
    h = await bot_harness(name, storage=db)
    assert await h.say("!count") == ["tester: 1"]
    assert await h.say("!count") == ["tester: 2"]
    await h.bot.close()
    h2 = await bot_harness(name, storage=db, nick="otherbot", channel="#other")
    assert await h2.say("!count") == ["tester: 3"]


async def test_settings_and_context(bot_harness, plugin_dir):
    name = plugin_dir("fw_plugin_f")
    h = await bot_harness(name, settings={name: {"x": "42"}})
    assert await h.say("!where") == ["tester: channel=#test target=#test prefix=42"]
    assert await h.pm("where") == ["channel=None target=tester prefix=42"]


async def test_reload_replaces_handlers_without_duplicates_or_leaks(bot_harness, plugin_dir):
    extra = '''
    ticks = []

    @interval(0.01)
    def tick(ctx):
        ticks.append(1)
    '''
    name = plugin_dir("fw_plugin_g", extra=extra)
    h = await bot_harness(name)
    assert await h.say("!hello") == ["tester: hello you"]
    old_tasks = set(h.bot.plugins[name].tasks)
    assert len(old_tasks) == 1  # the interval
    plugin_dir("fw_plugin_g", suffix="!!", extra=extra)  # edit the plugin
    await h.bot.reload_plugin(name)
    assert all(t.done() for t in old_tasks)  # the old interval is gone
    assert len(h.bot.plugins[name].tasks) == 1
    assert len([x for x in h.bot.handlers if x.func.__name__ == "hello"]) == 1
    assert await h.say("!hello") == ["tester: hello you!!"]  # once, and the new code
    module = sys.modules[name]
    deadline = asyncio.get_running_loop().time() + 5
    while not module.ticks:  # the new interval runs
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)  # polling with a deadline for the interval's first tick
    await h.bot.unload_plugin(name)
    assert not h.bot.handlers and not h.bot.interval_tasks
    assert await h.say("!hello") == []


async def test_load_errors(bot_harness, plugin_dir, tmp_path):
    h = await bot_harness()
    with pytest.raises(ImportError):
        await h.bot.load_plugin("fw_plugin_missing")
    name = plugin_dir("fw_plugin_h")
    await h.bot.load_plugin(name)
    with pytest.raises(ValueError, match="already loaded"):
        await h.bot.load_plugin(name)
    with pytest.raises(KeyError):
        await h.bot.unload_plugin("nope")


async def test_a_reload_that_fails_keeps_the_old_code(bot_harness, plugin_dir, tmp_path):
    name = plugin_dir("fw_plugin_i")
    h = await bot_harness(name)
    (tmp_path / f"{name}.py").write_text("def broken(:\n")  # a typo, saved
    with pytest.raises(SyntaxError):
        await h.bot.reload_plugin(name)
    assert name in h.bot.plugins
    assert await h.say("!hello") == ["tester: hello you"]
    assert len([x for x in h.bot.handlers if x.func.__name__ == "hello"]) == 1


async def test_plugins_from_an_entry_point(bot_harness, tmp_path, monkeypatch):
    """An installed package offers a plugin under the words.bots.plugins group."""
    (tmp_path / "shoutpkg").mkdir()
    (tmp_path / "shoutpkg" / "__init__.py").write_text("")
    (tmp_path / "shoutpkg" / "loud.py").write_text(textwrap.dedent('''
        from bots import command

        @command("shout")
        def shout(ctx):
            ctx.reply(ctx.args.upper() + ctx.settings.get("end", "!"))
    '''))
    dist = tmp_path / "shoutpkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shoutpkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[words.bots.plugins]\nshout = shoutpkg.loud\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        h = await bot_harness("shout", settings={"shout": {"end": "!!!"}})
        assert list(h.bot.plugins) == ["shout"]
        assert await h.say("!shout hey") == ["tester: HEY!!!"]
        await h.bot.reload_plugin("shout")
        assert await h.say("!shout again") == ["tester: AGAIN!!!"]
    finally:
        for mod in ("shoutpkg", "shoutpkg.loud"):
            sys.modules.pop(mod, None)
