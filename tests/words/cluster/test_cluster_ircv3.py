"""IRCv3 on a cluster: one msgid per event on every node, labelled answers that wait for Redis.

Two `words serve` nodes on one Redis and one PostgreSQL. An event goes over the
wire with its time and msgid (words.cluster.wire), so a client on the other node
sees the same tags as the sender's own node gives, and CHATHISTORY (the shared
table, written by the node where the event happened) gives them back.
"""

from __future__ import annotations

import asyncio
import re

from cluster_support import all_members, close_all, saw_join
from support import RawClient, join

CAPS = "batch server-time message-tags draft/chathistory draft/event-playback"
EVENTS = ("JOIN", "TOPIC", "MODE", "PRIVMSG", "NICK", "PART")


async def capped(node, nick: str, caps: str) -> RawClient:
    c = await RawClient.connect(node.port)
    c.nick = nick
    await c.send(f"CAP REQ :{caps}")
    await c.send(f"NICK {nick}")
    await c.send(f"USER u 0 * :{nick}")
    await c.send("CAP END")
    await c.expect("001", nick)
    await c.expect("376", nick)
    return c


def events(c: RawClient, start: int = 0) -> list[str]:
    return [m.to_line() for m in c.received[start:] if m.command in EVENTS]


async def test_every_node_shows_an_event_with_one_msgid_live_and_in_history(start_cluster):
    a, b = start_cluster("a", "b")
    bob = await capped(b, "bob", CAPS)
    alice = await capped(a, "alice", CAPS)
    try:
        await join(bob, "#m")  # bob is the channel's operator
        await all_members(alice, "#m", 1)
        await join(alice, "#m")
        await saw_join(bob, "alice", "#m")
        start = {id(c): len(c.received) for c in (alice, bob)}
        for line in ("TOPIC #m :one id", "MODE #m +v alice", "PRIVMSG #m :hello", "NICK bobby",
                     "PART #m :bye"):
            await bob.send(line)
        await bob.expect("PART", "#m")
        await alice.expect("PART", "#m")  # the last of them reached node a
        await bob.until_pong()
        # The same lines, tags included, on bob's node (sender's echo) and on alice's.
        bob_saw, alice_saw = events(bob, start[id(bob)]), events(alice, start[id(alice)])
        assert [re.sub(r"^@\S+ ", "", line) for line in alice_saw] == [
            ":bob!~u@127.0.0.1 TOPIC #m :one id", ":bob!~u@127.0.0.1 MODE #m +v alice",
            ":bob!~u@127.0.0.1 PRIVMSG #m hello", ":bob!~u@127.0.0.1 NICK bobby",
            ":bobby!~u@127.0.0.1 PART #m bye"]
        assert [line for line in bob_saw if " PRIVMSG " not in line] == [
            line for line in alice_saw if " PRIVMSG " not in line]  # no echo-message
        ids = [re.search(r"msgid=([^; ]+)", line).group(1) for line in alice_saw]
        assert len(set(ids)) == len(ids)
        # History on node a (node b wrote bob's events): the msgids and times seen live.
        live = [line for line in events(bob) if " JOIN " in line][:1] + events(alice)
        assert "bob!" in live[0] and "alice!" in live[1]  # the two JOINs
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            await alice.until_pong()
            await alice.send("CHATHISTORY LATEST #m * 50")
            got = [m.to_line() for m in await alice.until_pong()]
            body = [re.sub(r"^@batch=\S+?;", "@", line) for line in got[1:-1]]
            # Each node writes its own events behind, so the two nodes' records may
            # interleave in the table otherwise than in time: compared as sets.
            if sorted(body) == sorted(live) or loop.time() > deadline:
                break
        assert sorted(body) == sorted(live)
    finally:
        await close_all(alice, bob)


async def test_a_labeled_join_of_a_new_channel_is_one_labeled_answer(start_cluster):
    # A new channel is claimed in Redis first (its first op), so the JOIN is answered
    # from a task: the burst is still the labelled answer, whole, with no ACK after it.
    (a,) = start_cluster("a")
    alice = await capped(a, "alice", "batch labeled-response")
    try:
        await alice.until_pong()
        await alice.send("@label=j1 JOIN #new")
        got = [m.to_line() for m in await alice.until_pong()]
        ref = got[0].split("BATCH +", 1)[1].split()[0]
        assert got == [
            f"@label=j1 :irc.test BATCH +{ref} labeled-response",
            f"@batch={ref} :alice!~u@127.0.0.1 JOIN #new",
            f"@batch={ref} :irc.test 353 alice = #new @alice",
            f"@batch={ref} :irc.test 366 alice #new :End of /NAMES list",
            f":irc.test BATCH -{ref}",
        ]
    finally:
        await close_all(alice)
