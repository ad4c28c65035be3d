"""Clients on different nodes of one cluster: one network to them."""

from __future__ import annotations

from support import RawClient, join


async def client(node, nick: str) -> RawClient:
    c = await RawClient.connect(node.port)
    await c.register(nick)
    return c


async def test_channel_message_reaches_every_node(start_cluster):
    a, b, c = start_cluster("a", "b", "c")
    alice, bob, carol = await client(a, "alice"), await client(b, "bob"), await client(c, "carol")
    try:
        await join(alice, "#chat")
        await join(bob, "#chat")
        await alice.expect("JOIN", "#chat")  # bob's, seen on alice's node
        await join(carol, "#chat")
        await alice.expect("JOIN", "#chat")  # carol's: now alice's node sends to hers too
        await bob.expect("JOIN", "#chat")
        await alice.send("PRIVMSG #chat :hello from a")
        for other in (bob, carol):
            msg = await other.expect("PRIVMSG", "#chat")
            assert msg.to_line().endswith(":alice!~user@127.0.0.1 PRIVMSG #chat :hello from a")
    finally:
        for x in (alice, bob, carol):
            await x.close()
