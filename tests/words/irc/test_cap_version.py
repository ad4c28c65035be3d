"""CAP LS <version>: only ASCII digits are a version (found by bench/soak.py: 'CAP LS ¹302'
made the handler raise, since '¹302'.isdigit() is true and int() refuses it)."""

from __future__ import annotations

from support import reply_to


async def test_cap_ls_with_a_superscript_version_is_cap_ls_301(connect):
    client = await connect()
    replies = await reply_to(client, "CAP LS ¹302")
    assert len(replies) == 1 and replies[0].startswith(":irc.test CAP * LS :"), replies
    assert "sasl=" not in replies[0]  # 301: no values
    await client.send("CAP END")
