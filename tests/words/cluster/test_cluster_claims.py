"""Claims across nodes: a nick is granted once, a new channel's first joiner is op once."""

from __future__ import annotations

import asyncio

from cluster_support import all_members, close_all, try_register


async def test_a_nick_claimed_on_two_nodes_at_once_is_granted_once(start_cluster):
    a, b, c = start_cluster("a", "b", "c")
    clients = []
    try:
        for i in range(10):
            nick = f"racer{i}"
            results = await asyncio.gather(*(try_register(n.port, nick) for n in (a, b, c)))
            clients += [client for client, _ in results]
            assert sorted(code for _, code in results) == ["001", "433", "433"], nick
            for loser in (client for client, code in results if code == "433"):
                assert loser.received[-1].to_line() == f":irc.test 433 * {nick} :Nickname is already in use"
        # Renames race the same way: two registered users ask for one new nick at once.
        x, y = (await try_register(a.port, "xx"))[0], (await try_register(b.port, "yy"))[0]
        clients += [x, y]
        for i in range(5):
            await asyncio.gather(x.send(f"NICK prize{i}"), y.send(f"NICK prize{i}"))
            answers = []
            for who in (x, y):
                msg = await who.read_message()
                while msg.command not in ("NICK", "433"):
                    msg = await who.read_message()
                answers.append(msg.command)
            assert sorted(answers) == ["433", "NICK"], answers
            loser = x if answers[0] == "433" else y
            # The loser sees the winner's rename only if they share a channel: they do not.
            assert [m.command for m in await loser.until_pong()] == []
    finally:
        await close_all(*clients)


async def test_a_new_channels_first_joiner_is_op_exactly_once(start_cluster):
    nodes = start_cluster("a", "b", "c")
    users = [await try_register(n.port, f"u{n.name}") for n in nodes]
    clients = [c for c, code in users]
    assert [code for _, code in users] == ["001", "001", "001"]
    try:
        for i in range(6):
            channel = f"#new{i}"
            await asyncio.gather(*(c.send(f"JOIN {channel}") for c in clients))
            for c in clients:
                await c.expect("366", c.nick, channel)
            # Each node, once it has all three joins, shows the same single op.
            seen = [await asyncio.wait_for(all_members(c, channel, 3), 10) for c in clients]
            assert sorted(m.lstrip("@") for m in seen[0]) == ["ua", "ub", "uc"]
            assert sum(m.startswith("@") for m in seen[0]) == 1, seen[0]
            assert seen[1] == seen[0] and seen[2] == seen[0], seen
    finally:
        await close_all(*clients)


