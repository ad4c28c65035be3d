"""seen, tell and karma through a words server; persistence across bot restarts."""

from __future__ import annotations

from bots.plugins.seen import ago


def test_ago():
    assert ago(5) == "5s ago"
    assert ago(125) == "2m ago"
    assert ago(3 * 3600 + 20 * 60) == "3h 20m ago"
    assert ago(2 * 86400 + 4 * 3600 + 5) == "2d 4h ago"


async def test_seen_lines_joins_parts_nicks_quits(bot_harness, raw_client, irc_server):
    h = await bot_harness("seen", server=irc_server)
    assert await h.say("!seen nobody") == ["tester: I have not seen nobody."]
    assert await h.say("!seen testbot") == ["tester: I'm right here."]
    bob = await raw_client(h.server.port, "bob")
    await bob.send("JOIN #test")
    await h.say("hello from bob", user=bob)
    [reply] = await h.say("!seen BOB")
    assert reply.startswith("tester: bob was last seen ") and "in #test, saying: hello from bob" in reply
    await bob.send("PART #test :lunch")
    await h.bot.wait_event("user_left")
    await h.settle()
    [reply] = await h.say("!seen bob")
    assert reply.endswith("in #test, leaving (lunch)")
    await bob.send("JOIN #test")
    await bob.send("NICK robert")
    await h.bot.wait_event("user_renamed")
    [reply] = await h.say("!seen bob")
    assert reply.endswith("changing nick to robert")


async def test_seen_persists(bot_harness, raw_client, tmp_path):
    db = str(tmp_path / "seen.sqlite")
    h = await bot_harness("seen", storage=db)
    bob = await raw_client(h.server.port, "bob")
    await bob.send("JOIN #test")
    await h.say("I was here", user=bob)
    await h.bot.close()
    h2 = await bot_harness("seen", storage=db, nick="otherbot", channel="#elsewhere")
    [reply] = await h2.say("!seen bob")
    assert reply.startswith("tester: bob was last seen ")
    assert reply.endswith("in #test, saying: I was here")


async def test_tell_on_speaking_and_on_joining(bot_harness, raw_client, irc_server):
    h = await bot_harness("tell", server=irc_server)
    assert await h.say("!tell bob the build is green") == ["tester: I'll pass that on to bob."]
    bob = await raw_client(h.server.port, "bob")
    mark = h.bot.mark()
    await bob.send("JOIN #test")
    await h.bot.wait_event("user_joined", start=mark)
    said = await h.settle(bob)
    assert len(said) == 1 and said[0].startswith("bob: tester said ")
    assert said[0].endswith(": the build is green")
    await h.settle()
    # Delivered once only.
    assert await h.say("anything new?", user=bob) == []
    await h.say("!tell bob second")
    await h.settle(bob)  # bob saw the bot's answer to tester in the channel
    assert (await h.say("hi", user=bob))[0].endswith(": second")


async def test_tell_limits(bot_harness):
    h = await bot_harness("tell", settings={"tell": {"max_per_nick": 1}})
    assert await h.say("!tell carol one") == ["tester: I'll pass that on to carol."]
    assert await h.say("!tell carol two") == ["tester: carol has too many messages waiting."]
    assert await h.say("!tell carol") == ["tester: usage: tell nick message"]


async def test_karma(bot_harness, raw_client, irc_server):
    h = await bot_harness("karma", server=irc_server)
    for line in ("python++", "Python++ is great", "java--", "python++", "tester++"):
        said = await h.say(line)
        if line == "tester++":
            assert said == ["No self-karma."]
    assert await h.say("!karma PYTHON") == ["tester: PYTHON has karma 3."]
    assert await h.say("!karma java") == ["tester: java has karma -1."]
    assert await h.say("!karma") == ["tester: tester has karma 0."]
    assert await h.say("c++ is not karma for c? it is: c++") == []
    assert await h.say("!karma c") == ["tester: c has karma 1."]
