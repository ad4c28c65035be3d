"""nick_charset and channel_charset on a live server, and look-alike nicks refused with 433."""

from __future__ import annotations

import pytest
from support import RawClient, reply_to

from words.config import ConfigError, config_from_mapping


async def test_ascii_nicks_by_default(server, connect):
    client = await connect()
    await client.send("NICK José")
    error = await client.expect("432")
    assert error.to_line() == ":irc.test 432 * José :Erroneous nickname"


async def test_utf8_nicks_when_configured(start_server):
    server = await start_server(nick_charset="utf8")
    jose = await RawClient.connect(server.port)
    try:
        welcome = await jose.register("José")
        assert welcome.params[0] == "José"
        assert await reply_to(jose, "NICK Дмитрий") == [":José!~user@127.0.0.1 NICK Дмитрий"]
        await jose.send("NICK a\u200bb")
        assert (await jose.expect("432")).params[1:] == ["a\u200bb", "Erroneous nickname"]
    finally:
        await jose.close()


async def test_a_look_alike_of_a_nick_in_use_is_refused(start_server):
    server = await start_server(nick_charset="utf8")
    paypal = await RawClient.connect(server.port)
    impostor = await RawClient.connect(server.port)
    try:
        await paypal.register("PayPal")
        # Before registration (NICK then USER) ...
        await impostor.send("NICK раураl")  # Cyrillic р, а, у
        refused = await impostor.expect("433")
        assert refused.to_line() == ":irc.test 433 * раураl :Nickname looks like PayPal, which is in use"
        await impostor.register("guest")
        # ... and as a nick change.
        await impostor.send("NICK ΡΑΥΡΑL")  # Greek capitals
        refused = await impostor.expect("433")
        assert refused.params == ["guest", "ΡΑΥΡΑL", "Nickname looks like PayPal, which is in use"]
        # Once PayPal is gone, the look-alike is free.
        await paypal.send("QUIT")
        assert await paypal.closed()
        assert await reply_to(impostor, "NICK раураl") == [":guest!~user@127.0.0.1 NICK раураl"]
        assert server.nick_skeletons.owner("paypal") is not None
    finally:
        await paypal.close()
        await impostor.close()


async def test_a_user_may_take_a_look_alike_of_its_own_nick(start_server):
    server = await start_server(nick_charset="utf8")
    alice = await RawClient.connect(server.port)
    try:
        await alice.register("alice")
        assert await reply_to(alice, "NICK аlice") == [":alice!~user@127.0.0.1 NICK аlice"]
        assert await reply_to(alice, "NICK Alice") == [":аlice!~user@127.0.0.1 NICK Alice"]
    finally:
        await alice.close()


async def test_the_services_nicks_are_guarded_too(start_server):
    server = await start_server(nick_charset="utf8")
    client = await RawClient.connect(server.port)
    try:
        await client.send("NICK NіckServ")  # Cyrillic і
        assert (await client.expect("433")).params[1:] == [
            "NіckServ", "Nickname looks like NickServ, which is in use"
        ]
    finally:
        await client.close()


async def test_channel_charset_ascii_refuses_other_names(start_server):
    server = await start_server(channel_charset="ascii")
    alice = await RawClient.connect(server.port)
    try:
        await alice.register("alice")
        assert await reply_to(alice, "JOIN #café") == [":irc.test 403 alice #café :No such channel"]
        await alice.send("JOIN #cafe")
        await alice.expect("366", "alice", "#cafe")
    finally:
        await alice.close()


async def test_channel_charset_utf8_refuses_invisible_characters(start_server):
    server = await start_server(channel_charset="utf8")
    alice = await RawClient.connect(server.port)
    try:
        await alice.register("alice")
        assert await reply_to(alice, "JOIN #a\u200bb") == [":irc.test 403 alice #a\u200bb :No such channel"]
        await alice.send("JOIN #café")
        await alice.expect("366", "alice", "#café")
    finally:
        await alice.close()


def test_the_charsets_are_read_from_the_config():
    config = config_from_mapping({"nick_charset": "utf8", "channel_charset": "ascii"}, "t.yaml")
    assert (config.nick_charset, config.channel_charset) == ("utf8", "ascii")
    assert (config_from_mapping({}, "t.yaml").nick_charset, config_from_mapping({}, "t.yaml").channel_charset) == (
        "ascii", "rfc")


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [("nick_charset", "latin1", "'latin1' is not one of ascii, utf8"),
     ("channel_charset", "any", "'any' is not one of rfc, ascii, utf8")],
)
def test_bad_charsets_name_the_key(key, value, problem):
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({key: value}, "t.yaml")
    assert (caught.value.key, caught.value.problem) == (key, problem)
