"""WHOX over real sockets: WHO <mask> %<fields>[,<token>] answers 354 with exactly those fields."""

from __future__ import annotations

import pytest
from support import RawClient, join, reply_to

from words.config import Cloak, Oper
from words.cred import PasswordHasher
from words.irc.cloak import cloak_host

SECRET = "a-very-long-cloak-secret-for-tests"
ROOT_HASH = PasswordHasher.from_config({"ln": 4}).hash("sesame")


async def isupport(client: RawClient) -> list[str]:
    return [t for m in client.received if m.command == "005" for t in m.params[1:-1]]


async def test_whox_is_in_isupport(connect):
    alice = await connect("alice")
    assert "WHOX" in await isupport(alice)


async def test_plain_who_is_unchanged(connect):
    alice = await connect("alice")
    await join(alice, "#a")
    assert await reply_to(alice, "WHO #a") == [
        ":irc.test 352 alice #a ~user 127.0.0.1 irc.test alice H@ :0 Real alice",
        ":irc.test 315 alice #a :End of WHO list",
    ]


async def test_the_spec_example_without_a_token(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(bob, "#ircv3")
    await bob.send("REGISTER * * sekrit123")
    await bob.expect("900", "bob")
    assert await reply_to(alice, "WHO bob %cuhnar") == [
        ":irc.test 354 alice #ircv3 ~user 127.0.0.1 bob bob :Real bob",
        ":irc.test 315 alice bob :End of WHO list",
    ]


async def test_fields_come_in_the_spec_order_whatever_order_they_are_asked(connect):
    alice = await connect("alice")
    await join(alice, "#a")
    assert await reply_to(alice, "WHO #a %ranfhsiuct,42") == [
        ":irc.test 354 alice 42 #a ~user 127.0.0.1 127.0.0.1 irc.test alice H@ 0 :Real alice",
        ":irc.test 315 alice #a :End of WHO list",
    ]


async def test_every_field_with_a_token(connect):
    alice = await connect("alice")
    await join(alice, "#a")
    await alice.send("AWAY :gone")
    await alice.expect("306")
    # t c u i h s n f d l a o r: hop count 0, idle seconds, no account 0, op level n/a.
    replies = await reply_to(alice, "WHO alice %tcuihsnfdlaor,7")
    assert len(replies) == 2
    fields = replies[0].split(" ")
    idle = fields[12]
    assert idle.isdigit() and int(idle) < 60
    assert replies[0] == (
        f":irc.test 354 alice 7 #a ~user 127.0.0.1 127.0.0.1 irc.test alice G 0 {idle} 0 n/a "
        ":Real alice"
    )
    assert replies[1] == ":irc.test 315 alice alice :End of WHO list"


async def test_the_spec_example_with_a_token_on_a_channel(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#ircv3")
    await join(bob, "#ircv3")
    await bob.send("REGISTER * * sekrit123")
    await bob.expect("900", "bob")
    assert await reply_to(alice, "WHO #ircv3 %afnt,42") == [
        ":irc.test 354 alice 42 alice H@ 0",
        ":irc.test 354 alice 42 bob H bob",
        ":irc.test 315 alice #ircv3 :End of WHO list",
    ]


async def test_a_token_must_be_up_to_three_digits_else_it_is_0(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "WHO alice %tn,1234") == [
        ":irc.test 354 alice 0 alice",
        ":irc.test 315 alice alice :End of WHO list",
    ]
    assert await reply_to(alice, "WHO alice %tn,ab") == [
        ":irc.test 354 alice 0 alice",
        ":irc.test 315 alice alice :End of WHO list",
    ]
    assert await reply_to(alice, "WHO alice %tn") == [
        ":irc.test 354 alice 0 alice",
        ":irc.test 315 alice alice :End of WHO list",
    ]


async def test_a_user_in_no_channel_has_channel_star(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "WHO alice %cn") == [
        ":irc.test 354 alice * alice",
        ":irc.test 315 alice alice :End of WHO list",
    ]


async def test_unknown_fields_are_ignored(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "WHO alice %nxyz") == [
        ":irc.test 354 alice alice",
        ":irc.test 315 alice alice :End of WHO list",
    ]


async def test_whox_keeps_the_o_flag_and_the_o_field_apart(connect):
    alice = await connect("alice")
    await join(alice, "#a")
    # The 'o' field (op level) is not the 'o' flag (operators only).
    assert await reply_to(alice, "WHO #a %no") == [
        ":irc.test 354 alice alice n/a",
        ":irc.test 315 alice #a :End of WHO list",
    ]
    assert await reply_to(alice, "WHO #a o%no") == [":irc.test 315 alice #a :End of WHO list"]


async def test_whox_never_sends_352(connect):
    alice = await connect("alice")
    await connect("bob")
    replies = await reply_to(alice, "WHO * %n")
    assert sorted(replies[:-1]) == [":irc.test 354 alice alice", ":irc.test 354 alice bob"]
    assert replies[-1] == ":irc.test 315 alice * :End of WHO list"


async def test_invisible_users_stay_hidden_from_whox(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await bob.send("MODE bob +i")
    await bob.expect("MODE")
    assert await reply_to(alice, "WHO bob %n") == [":irc.test 315 alice bob :End of WHO list"]


@pytest.fixture
async def cloaked(start_server):
    return await start_server(
        cloak=Cloak(SECRET, "ip"), opers=(Oper("root", ROOT_HASH, hosts=("~user@127.0.0.1",)),)
    )


async def test_a_cloaked_address_is_255_255_255_255_except_to_opers_and_oneself(cloaked):
    cloak = cloak_host("127.0.0.1", SECRET, "ip")
    alice = await RawClient.connect(cloaked.port)
    bob = await RawClient.connect(cloaked.port)
    try:
        await alice.register("alice")
        await bob.register("bob")
        assert await reply_to(alice, "WHO bob %ihn") == [
            f":irc.test 354 alice 255.255.255.255 {cloak} bob",
            ":irc.test 315 alice bob :End of WHO list",
        ]
        assert await reply_to(bob, "WHO bob %ihn") == [
            f":irc.test 354 bob 127.0.0.1 {cloak} bob",
            ":irc.test 315 bob bob :End of WHO list",
        ]
        await alice.send("OPER root sesame")
        await alice.expect("381")
        assert await reply_to(alice, "WHO bob %ihn") == [
            f":irc.test 354 alice 127.0.0.1 {cloak} bob",
            ":irc.test 315 alice bob :End of WHO list",
        ]
    finally:
        await alice.close()
        await bob.close()
