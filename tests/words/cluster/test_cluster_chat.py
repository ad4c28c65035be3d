"""Clients on different nodes of one cluster: one network to them.

Three `words serve` nodes on one Redis and one PostgreSQL. An event reaches
the other nodes a moment after it happens, so a test waits for the line that
proves it arrived (a JOIN, a NICK) before it relies on it.
"""

from __future__ import annotations

import asyncio

from cluster_support import (
    all_members,
    client,
    close_all,
    oper_up,
    reply_lines,
    root_opers,
    saw_join,
)
from support import RawClient, join


async def three_in_a_channel(start_cluster, channel: str = "#chat"):
    """alice on a, bob on b, carol on c, all in `channel`, each having seen the others join."""
    a, b, c = start_cluster("a", "b", "c")
    alice, bob, carol = await client(a, "alice"), await client(b, "bob"), await client(c, "carol")
    await join(alice, channel)
    # Each joins once its node knows who is in already, so no JOIN comes in late.
    await all_members(bob, channel, 1)
    await join(bob, channel)
    await saw_join(alice, "bob", channel)
    await all_members(carol, channel, 2)
    await join(carol, channel)
    await saw_join(alice, "carol", channel)
    await saw_join(bob, "carol", channel)
    return (a, b, c), (alice, bob, carol)


async def test_channel_and_private_messages_reach_every_node(start_cluster):
    _, (alice, bob, carol) = await three_in_a_channel(start_cluster)
    try:
        await alice.send("PRIVMSG #chat :hello from a")
        for other in (bob, carol):
            msg = await other.expect("PRIVMSG", "#chat")
            assert msg.to_line() == ":alice!~user@127.0.0.1 PRIVMSG #chat :hello from a"
        await carol.send("PRIVMSG bob :psst")
        msg = await bob.expect("PRIVMSG", "bob")
        assert msg.to_line() == ":carol!~user@127.0.0.1 PRIVMSG bob psst"
        await bob.send("NOTICE carol :noted")
        msg = await carol.expect("NOTICE", "carol")
        assert msg.to_line() == ":bob!~user@127.0.0.1 NOTICE carol noted"
        # Nothing came back to the sender, nothing went to the third party.
        assert [m.command for m in await alice.until_pong()] == []
    finally:
        await close_all(alice, bob, carol)


async def test_messages_from_one_sender_arrive_in_order_everywhere(start_cluster):
    _, (alice, bob, carol) = await three_in_a_channel(start_cluster)
    try:
        for i in range(200):
            await alice.send(f"PRIVMSG #chat :{i}")
        for other in (bob, carol):
            got = [(await other.expect("PRIVMSG", "#chat")).params[1] for _ in range(200)]
            assert got == [str(i) for i in range(200)]
    finally:
        await close_all(alice, bob, carol)


async def test_names_who_whois_see_users_of_every_node(start_cluster):
    _, (alice, bob, carol) = await three_in_a_channel(start_cluster)
    try:
        lines = await reply_lines(carol, "NAMES #chat")
        assert lines[0].startswith(":irc.test 353 carol = #chat :")
        assert set(lines[0].split(":", 2)[2].split()) == {"@alice", "bob", "carol"}
        assert lines[1] == ":irc.test 366 carol #chat :End of /NAMES list"

        lines = await reply_lines(bob, "WHO #chat")
        assert sorted(lines[:-1]) == sorted([
            ":irc.test 352 bob #chat ~user 127.0.0.1 irc.test alice H@ :0 Real alice",
            ":irc.test 352 bob #chat ~user 127.0.0.1 irc.test bob H :0 Real bob",
            ":irc.test 352 bob #chat ~user 127.0.0.1 irc.test carol H :0 Real carol",
        ])
        assert lines[-1] == ":irc.test 315 bob #chat :End of WHO list"

        lines = await reply_lines(carol, "WHOIS alice")
        assert lines[0] == ":irc.test 311 carol alice ~user 127.0.0.1 * :Real alice"
        assert lines[1] == ":irc.test 319 carol alice @#chat"
        assert lines[-1] == ":irc.test 318 carol alice :End of /WHOIS list"
    finally:
        await close_all(alice, bob, carol)


async def test_who_mask_finds_users_of_other_nodes_sharing_no_channel(start_cluster):
    a, b, c = start_cluster("a", "b", "c")
    ann = await client(a, "ann")
    # Each on a node of their own, in no channel: the other nodes know them all the same.
    annie, anton = await RawClient.connect(b.port), await RawClient.connect(c.port)
    await annie.register("annie", user="annie")
    await anton.register("anton", user="anton")
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while len(lines := await reply_lines(ann, "WHO an*")) < 4:  # sign-ons arrive a moment later
            assert loop.time() < deadline, lines
        assert sorted(lines[:-1]) == [
            ":irc.test 352 ann * ~annie 127.0.0.1 irc.test annie H :0 Real annie",
            ":irc.test 352 ann * ~anton 127.0.0.1 irc.test anton H :0 Real anton",
            ":irc.test 352 ann * ~user 127.0.0.1 irc.test ann H :0 Real ann",
        ]
        assert lines[-1] == ":irc.test 315 ann an* :End of WHO list"
        assert await reply_lines(anton, "WHO annie") == [
            ":irc.test 352 anton * ~annie 127.0.0.1 irc.test annie H :0 Real annie",
            ":irc.test 315 anton annie :End of WHO list",
        ]
    finally:
        await close_all(ann, annie, anton)


async def test_nick_changes_are_seen_and_free_the_old_nick(start_cluster):
    (_, _, c), (alice, bob, carol) = await three_in_a_channel(start_cluster)
    try:
        await alice.send("NICK alicia")
        assert (await alice.expect("NICK")).to_line() == ":alice!~user@127.0.0.1 NICK alicia"
        for other in (bob, carol):
            assert (await other.expect("NICK")).to_line() == ":alice!~user@127.0.0.1 NICK alicia"
        # The new nick is taken everywhere, the old one free everywhere.
        assert await reply_lines(bob, "NICK alicia") == [
            ":irc.test 433 bob alicia :Nickname is already in use"
        ]
        await bob.send("NICK alice")
        assert (await bob.expect("NICK")).to_line() == ":bob!~user@127.0.0.1 NICK alice"
        assert (await carol.expect("NICK")).to_line() == ":bob!~user@127.0.0.1 NICK alice"
        # A client arriving on the third node cannot take a nick held on another.
        late = await RawClient.connect(c.port)
        try:
            await late.send("NICK alicia")
            await late.send("USER u 0 * :late")
            assert (await late.expect("433")).to_line() == (
                ":irc.test 433 * alicia :Nickname is already in use"
            )
        finally:
            await late.close()
    finally:
        await close_all(alice, bob, carol)


async def test_kick_and_ban_across_nodes(start_cluster):
    _, (alice, bob, carol) = await three_in_a_channel(start_cluster)
    try:
        # alice (node a, first joiner, op) kicks bob (node b).
        await alice.send("KICK #chat bob :out")
        line = ":alice!~user@127.0.0.1 KICK #chat bob out"
        for c in (alice, bob, carol):
            assert (await c.expect("KICK")).to_line() == line
        # She bans bob's mask: bob's node refuses his rejoin.
        await alice.send("MODE #chat +b bob!*@*")
        for c in (alice, carol):
            assert (await c.expect("MODE")).to_line() == ":alice!~user@127.0.0.1 MODE #chat +b bob!*@*"
        await asyncio.wait_for(_until_banned(bob), 10)
        # The ban list is the same on bob's node.
        lines = await reply_lines(bob, "MODE #chat b")
        assert lines[0].startswith(":irc.test 367 bob #chat bob!*@* alice!~user@127.0.0.1 ")
        assert lines[1] == ":irc.test 368 bob #chat :End of channel ban list"
        # An op on another node: alice ops carol, who then unbans on node c.
        await alice.send("MODE #chat +o carol")
        assert (await carol.expect("MODE")).to_line() == ":alice!~user@127.0.0.1 MODE #chat +o carol"
        await carol.send("MODE #chat -b bob!*@*")
        msg = await alice.expect("MODE", "#chat", "-b")
        assert msg.to_line() == ":carol!~user@127.0.0.1 MODE #chat -b bob!*@*"
        # The unban reaches bob's node a moment later than alice's: until its list is empty.
        deadline = asyncio.get_running_loop().time() + 10
        while await reply_lines(bob, "MODE #chat b") != [
                ":irc.test 368 bob #chat :End of channel ban list"]:
            assert asyncio.get_running_loop().time() < deadline, "the unban did not reach node b"
        await bob.send("JOIN #chat")
        assert (await bob.expect("JOIN")).to_line() == ":bob!~user@127.0.0.1 JOIN #chat"
        assert (await alice.expect("JOIN")).to_line() == ":bob!~user@127.0.0.1 JOIN #chat"
    finally:
        await close_all(alice, bob, carol)


async def test_a_banned_member_on_another_node_cannot_speak(start_cluster):
    _, (alice, bob, carol) = await three_in_a_channel(start_cluster)
    try:
        await alice.send("MODE #chat +b carol!*@*")
        line = ":alice!~user@127.0.0.1 MODE #chat +b carol!*@*"
        for c in (alice, bob, carol):  # carol's node has the ban once she sees it
            assert (await c.expect("MODE")).to_line() == line
        assert await reply_lines(carol, "PRIVMSG #chat :can you hear me?") == [
            ":irc.test 404 carol #chat :Cannot send to channel (you are banned)"
        ]
        # Nothing reached the others; carol is still a member and hears them.
        for c in (alice, bob):
            assert [m.command for m in await c.until_pong()] == []
        await bob.send("PRIVMSG #chat :still here")
        assert (await carol.expect("PRIVMSG")).to_line() == ":bob!~user@127.0.0.1 PRIVMSG #chat :still here"
        assert (await alice.expect("PRIVMSG")).to_line() == ":bob!~user@127.0.0.1 PRIVMSG #chat :still here"
    finally:
        await close_all(alice, bob, carol)


async def _until_banned(bob: RawClient) -> None:
    """JOIN until bob's node has the ban (it arrives a moment after alice set it)."""
    while True:
        await bob.send("JOIN #chat")
        msg = await bob.read_message()
        while msg is not None and msg.command not in ("474", "JOIN"):
            msg = await bob.read_message()
        assert msg is not None, "bob's connection closed"
        if msg.command == "474":
            assert msg.to_line() == ":irc.test 474 bob #chat :Cannot join channel (+b)"
            return
        await bob.send("PART #chat")  # joined before the ban arrived: try again
        await bob.expect("PART")


async def test_topic_and_quit_reach_every_node(start_cluster):
    _, (alice, bob, carol) = await three_in_a_channel(start_cluster)
    try:
        await alice.send("TOPIC #chat :cluster talk")
        for c in (bob, carol):
            assert (await c.expect("TOPIC")).to_line() == ":alice!~user@127.0.0.1 TOPIC #chat :cluster talk"
        lines = await reply_lines(carol, "TOPIC #chat")
        assert lines[0] == ":irc.test 332 carol #chat :cluster talk"
        await bob.send("QUIT :bye now")
        for c in (alice, carol):
            assert (await c.expect("QUIT")).to_line() == ":bob!~user@127.0.0.1 QUIT :Quit: bye now"
        assert await reply_lines(alice, "WHOIS bob") == [
            ":irc.test 401 alice bob :No such nick/channel",
            ":irc.test 318 alice bob :End of /WHOIS list",
        ]
    finally:
        await close_all(alice, bob, carol)


async def test_invite_away_and_kill_across_nodes(start_cluster):
    a, b, c = start_cluster("a", "b", "c", opers=root_opers())
    alice, bob, carol = await client(a, "alice"), await client(b, "bob"), await client(c, "carol")
    try:
        await join(alice, "#club")
        await all_members(carol, "#club", 1)
        await join(carol, "#club")
        await saw_join(alice, "carol", "#club")
        await alice.send("MODE #club +i")
        await alice.expect("MODE")
        # An invitation from node a lets bob on node b past +i.
        await alice.send("INVITE bob #club")
        assert (await alice.expect("341")).to_line() == ":irc.test 341 alice bob #club"
        assert (await bob.expect("INVITE")).to_line() == ":alice!~user@127.0.0.1 INVITE bob #club"
        await bob.send("JOIN #club")
        assert (await bob.expect("JOIN")).to_line() == ":bob!~user@127.0.0.1 JOIN #club"
        await saw_join(alice, "bob", "#club")
        # AWAY set on node b shows in WHOIS on node a.
        await bob.send("AWAY :lunch")
        await bob.expect("306")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        # The AWAY reaches node a a moment later: WHOIS (a round trip each) until it shows.
        while ":irc.test 301 alice bob lunch" not in await reply_lines(alice, "WHOIS bob"):
            assert loop.time() < deadline, "bob's AWAY did not reach node a within 10 s"
        await saw_join(carol, "bob", "#club")
        # An oper on node a KILLs bob on node b: bob's own node closes his connection, and
        # node c, where bob is b's user too, takes the KILL's QUIT as his.
        await oper_up(alice)
        await alice.send("KILL bob :enough")
        for member in (alice, carol):
            quit_line = await member.expect("QUIT")
            assert quit_line.to_line() == ":bob!~user@127.0.0.1 QUIT :Killed (alice (enough))"
        error = await bob.expect("ERROR")
        assert error.params[0] == "Closing Link: 127.0.0.1 (Killed (alice (enough)))"
        assert await bob.closed()
        assert await all_members(carol, "#club", 2) == ["@alice", "carol"]
    finally:
        await close_all(alice, bob, carol)


async def test_klines_and_dlines_hold_on_every_node(start_cluster):
    """Set by an oper on node a, in force on b and c at once; lifted on a, lifted everywhere."""
    a, b, c = start_cluster("a", "b", "c", opers=root_opers())
    boss = await client(a, "boss")
    bob = await RawClient.connect(b.port, source="127.0.0.2")
    dave = await RawClient.connect(c.port, source="127.0.0.3")
    clients = [boss, bob, dave]
    try:
        await bob.register("bob", user="bob")
        await dave.register("dave")
        await oper_up(boss)

        await boss.send("KLINE 1h ~bob@127.0.0.2 :spamming")
        assert "K-line added for ~bob@127.0.0.2" in (await boss.expect("NOTICE")).params[1]
        error = await bob.expect("ERROR")  # on node b, where bob is
        assert error.params[0] == "Closing Link: 127.0.0.2 (K-lined: spamming)"
        await asyncio.to_thread(c.wait_for_log, "K-line ~bob@127.0.0.2 set on another node")
        again = await RawClient.connect(c.port, source="127.0.0.2")
        clients.append(again)
        await again.send("NICK bob2")
        await again.send("USER bob 0 * :Bob")
        assert (await again.expect("ERROR")).params[0] == "Closing Link: 127.0.0.2 (K-lined: spamming)"
        assert not [m for m in again.received if m.command == "001"]

        await boss.send("DLINE 127.0.0.3 :a bad address")
        error = await dave.expect("ERROR")  # on node c
        assert error.params[0] == "Closing Link: 127.0.0.3 (D-lined: a bad address)"
        await asyncio.to_thread(b.wait_for_log, "D-line 127.0.0.3 set on another node")
        refused = await RawClient.connect(b.port, source="127.0.0.3")
        clients.append(refused)
        assert "D-lined: a bad address" in (await refused.expect("ERROR")).params[0]

        await boss.send("UNKLINE ~bob@127.0.0.2")
        await boss.expect("NOTICE")
        await boss.send("UNDLINE 127.0.0.3")
        await boss.expect("NOTICE")
        await asyncio.to_thread(c.wait_for_log, "K-line ~bob@127.0.0.2 lifted on another node")
        await asyncio.to_thread(b.wait_for_log, "D-line 127.0.0.3 lifted on another node")
        back = await RawClient.connect(c.port, source="127.0.0.2")
        clients.append(back)
        await back.register("bob", user="bob")
        welcome = await RawClient.connect(b.port, source="127.0.0.3")
        clients.append(welcome)
        await welcome.register("dave")
    finally:
        await close_all(*clients)
