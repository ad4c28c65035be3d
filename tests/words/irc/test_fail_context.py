"""FAIL replies echo the client's context; what cannot be a middle parameter becomes '*'.

Found by bench/soak.py: `CHATHISTORY :a b` made the handler raise (a middle
parameter with a space) instead of answering.
"""

from __future__ import annotations

from support import reply_to


async def test_chathistory_with_an_odd_subcommand_gets_a_fail(connect):
    alice = await connect("alice")
    for line in ("CHATHISTORY :a b", "CHATHISTORY : x", "CHATHISTORY :"):
        assert await reply_to(alice, line) == [
            ":irc.test FAIL CHATHISTORY INVALID_PARAMS * :Unknown subcommand"
        ], line


async def test_chathistory_with_an_odd_limit_gets_a_fail(connect):
    alice = await connect("alice")
    assert await reply_to(alice, "CHATHISTORY LATEST #a * :1 0") == [
        ":irc.test FAIL CHATHISTORY INVALID_PARAMS LATEST * :Invalid limit"
    ]
