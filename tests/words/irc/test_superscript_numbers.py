"""Numbers from clients: '¹'.isdigit() is true but int('¹') raises, so the handlers test
with isdecimal() (found by bench/soak.py with CAP LS; the same pattern was in these)."""

from __future__ import annotations

from support import join, reply_to


async def test_commands_with_superscript_numbers_still_answer(connect):
    alice = await connect("alice")
    await join(alice, "#a")
    assert await reply_to(alice, "MODE #a +l ¹") == [
        ":irc.test 696 alice #a l ¹ :Invalid limit"
    ]
    assert await reply_to(alice, "CHATHISTORY LATEST #a * ²") == [
        ":irc.test FAIL CHATHISTORY INVALID_PARAMS LATEST ² :Invalid limit"
    ]
    whowas = await reply_to(alice, "WHOWAS nobody ³")
    assert whowas[-1] == ":irc.test 369 alice nobody :End of WHOWAS"
    listing = await reply_to(alice, "LIST >¹")
    assert listing[-1] == ":irc.test 323 alice :End of /LIST"
