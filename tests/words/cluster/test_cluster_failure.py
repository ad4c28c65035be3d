"""A node killed with SIGKILL, a node stopped, a node restarted: the others carry on."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
from cluster_support import (
    all_members,
    client,
    close_all,
    nick_holder,
    oper_up,
    registration_answer,
    reply_lines,
    root_opers,
    saw_join,
    try_register,
)
from support import RawClient, join, reply_to

HEARTBEAT = 0.5
DEAD_AFTER = 2.0


async def chatter(sender: RawClient, stop: asyncio.Event, every: float = 0.02) -> int:
    """Send numbered messages to #chat until `stop`; returns how many were sent."""
    n = 0
    while not stop.is_set():
        await sender.send(f"PRIVMSG #chat :{n}")
        n += 1
        await asyncio.sleep(every)  # pacing the sender, not waiting for a result
    return n


# The longest pause allowed in a steady stream between two living nodes while a third
# dies: generous for a loaded 2-core machine, far below dead_after.
MAX_GAP = 1.0


async def listen_through_quit(c: RawClient, after: float, timeout: float) -> tuple[float, list[float]]:
    """Read until `after` seconds past the first QUIT; (when it came, each PRIVMSG's arrival)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quit_at: float | None = None
    arrivals: list[float] = []
    while quit_at is None or loop.time() < quit_at + after:
        assert loop.time() < deadline, f"no QUIT within {timeout}s"
        msg = await c.read_message()
        assert msg is not None, "connection closed"
        if msg.command == "PRIVMSG":
            arrivals.append(loop.time())
        elif msg.command == "QUIT" and quit_at is None:
            assert msg.to_line() == ":carol!~user@127.0.0.1 QUIT :*.net *.split c lost"
            quit_at = loop.time()
    return quit_at, arrivals


async def test_a_killed_nodes_users_quit_everywhere_and_chat_goes_on(start_cluster):
    a, b, c = start_cluster("a", "b", "c", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
    alice, bob, carol = await client(a, "alice"), await client(b, "bob"), await client(c, "carol")
    try:
        await join(alice, "#chat")
        await join(bob, "#chat")
        await saw_join(alice, "bob", "#chat")
        await join(carol, "#chat")
        await saw_join(alice, "carol", "#chat")
        await saw_join(bob, "carol", "#chat")

        stop = asyncio.Event()
        sending = asyncio.create_task(chatter(alice, stop))
        await bob.expect("PRIVMSG", "#chat", "5")  # the chat runs across nodes
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        c.kill()
        # bob hears the stream (every 20 ms) through carol's death and a second past it.
        listening = asyncio.create_task(
            listen_through_quit(bob, after=1.0, timeout=DEAD_AFTER + HEARTBEAT + 10))
        msg = await alice.expect("QUIT", timeout=DEAD_AFTER + HEARTBEAT + 5)
        assert msg.to_line() == ":carol!~user@127.0.0.1 QUIT :*.net *.split c lost"
        quit_at, arrivals = await listening
        # Declared dead after dead_after without a heartbeat, seen within a beat more.
        assert quit_at - killed_at <= DEAD_AFTER + 2 * HEARTBEAT + 1.0
        # Chat between a and b never stopped: no pause while c was dead and undeclared.
        times = [killed_at, *arrivals]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert arrivals[-1] > quit_at and max(gaps) < MAX_GAP, f"longest pause {max(gaps):.2f} s"
        stop.set()
        sent = await sending
        # Every message alice sent reached bob, in order, through the failure.
        got = [m.params[1] for m in bob.received if m.command == "PRIVMSG"]
        while len(got) < sent:
            msg = await bob.expect("PRIVMSG", "#chat")
            got.append(msg.params[1])
        assert got == [str(i) for i in range(sent)]
        # carol is gone from NAMES and WHOIS on the living nodes, and her nick is free.
        for watcher in (alice, bob):
            lines = await reply_to(watcher, "NAMES #chat")
            assert sorted(lines[0].split(":", 2)[2].split()) == ["@alice", "bob"], lines
            assert lines[1:] == [f":irc.test 366 {watcher.nick} #chat :End of /NAMES list"]
        lines = await reply_lines(bob, "WHOIS carol")
        assert lines == [
            ":irc.test 401 bob carol :No such nick/channel",
            ":irc.test 318 bob carol :End of /WHOIS list",
        ]
        await bob.send("NICK carol")
        assert (await alice.expect("NICK")).to_line() == ":bob!~user@127.0.0.1 NICK carol"
    finally:
        await close_all(alice, bob, carol)


async def test_a_restarted_node_rejoins_with_the_networks_state(start_cluster):
    a, b = start_cluster("a", "b", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
    alice, bob = await client(a, "alice"), await client(b, "bob")
    try:
        await join(alice, "#chat")
        await alice.send("TOPIC #chat :before the crash")
        await alice.send("MODE #chat +k sesame")
        await alice.expect("MODE")
        await bob.send("JOIN #chat sesame")
        await bob.expect("366", "bob", "#chat")
        await saw_join(alice, "bob", "#chat")
        b.kill()
        assert (await alice.expect("QUIT", timeout=DEAD_AFTER + 5)).to_line() == (
            ":bob!~user@127.0.0.1 QUIT :*.net *.split b lost"
        )
        await bob.close()
        b.start()  # same name: cleans what its previous run left, loads the snapshot
        bob = await client(b, "bob")  # the old claim on "bob" is gone
        lines = await reply_lines(bob, "NAMES #chat")
        assert lines == [":irc.test 353 bob = #chat @alice", ":irc.test 366 bob #chat :End of /NAMES list"]
        # The restarted node knows the topic and the key alice set before it crashed.
        await bob.send("JOIN #chat")
        assert (await bob.expect("475")).to_line() == ":irc.test 475 bob #chat :Cannot join channel (+k)"
        await bob.send("JOIN #chat sesame")
        assert (await bob.expect("332")).to_line() == ":irc.test 332 bob #chat :before the crash"
        assert (await alice.expect("JOIN")).to_line() == ":bob!~user@127.0.0.1 JOIN #chat"
        await alice.send("PRIVMSG #chat :welcome back")
        assert (await bob.expect("PRIVMSG")).to_line() == ":alice!~user@127.0.0.1 PRIVMSG #chat :welcome back"
    finally:
        await close_all(alice, bob)


async def test_a_stopped_node_says_goodbye(start_cluster):
    a, b = start_cluster("a", "b", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
    alice, bob = await client(a, "alice"), await client(b, "bob")
    try:
        await join(alice, "#chat")
        await join(bob, "#chat")
        await saw_join(alice, "bob", "#chat")
        started = time.monotonic()
        b.stop()  # SIGTERM: its clients quit as on one server, at once
        assert (await alice.expect("QUIT")).to_line() == ":bob!~user@127.0.0.1 QUIT :Server shutting down"
        assert time.monotonic() - started < DEAD_AFTER
        await bob.close()
        # It comes back at once (it removed its heartbeat on the way out: no waiting for it
        # to expire), bob's nick is free, and the restarted node is part of the network.
        b.start()
        assert "still has a heartbeat" not in b.log()
        bob = await client(b, "bob")
        assert await reply_lines(bob, "NAMES #chat") == [
            ":irc.test 353 bob = #chat @alice", ":irc.test 366 bob #chat :End of /NAMES list",
        ]
        await join(bob, "#chat")
        assert (await alice.expect("JOIN")).to_line() == ":bob!~user@127.0.0.1 JOIN #chat"
        await bob.send("PRIVMSG #chat :back")
        assert (await alice.expect("PRIVMSG")).to_line() == ":bob!~user@127.0.0.1 PRIVMSG #chat back"
    finally:
        await close_all(alice, bob)


async def test_a_node_declared_dead_while_running_rejoins(start_cluster):
    """SIGSTOP past dead_after: the others quit its users; on SIGCONT it notices and rejoins."""
    a, b = start_cluster("a", "b", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
    alice, bob = await client(a, "alice"), await client(b, "bob")
    try:
        await join(alice, "#chat")
        await join(bob, "#chat")
        await saw_join(alice, "bob", "#chat")
        b.pause()
        try:
            msg = await alice.expect("QUIT", timeout=DEAD_AFTER + 5)
            assert msg.to_line() == ":bob!~user@127.0.0.1 QUIT :*.net *.split b lost"
        finally:
            b.resume()
        # b finds its heartbeat expired: alice leaves and comes back for bob (b's view of
        # the others may be stale), and bob comes back for alice, nick and channel intact.
        msg = await bob.expect("QUIT", timeout=DEAD_AFTER + 5)
        assert msg.to_line() == ":alice!~user@127.0.0.1 QUIT :*.net *.split b lost"
        await saw_join(bob, "alice", "#chat")
        await saw_join(alice, "bob", "#chat")
        await alice.send("PRIVMSG #chat :you are back")
        msg = await bob.expect("PRIVMSG", "#chat")
        assert msg.to_line() == ":alice!~user@127.0.0.1 PRIVMSG #chat :you are back"
        await bob.send("PRIVMSG #chat :so I am")
        msg = await alice.expect("PRIVMSG", "#chat")
        assert msg.to_line() == ":bob!~user@127.0.0.1 PRIVMSG #chat :so I am"
        # bob's nick is claimed again: nobody on a can take it.
        late = await RawClient.connect(a.port)
        try:
            await late.send("NICK bob")
            await late.send("USER u 0 * :late")
            assert (await late.expect("433")).to_line() == ":irc.test 433 * bob :Nickname is already in use"
        finally:
            await late.close()
    finally:
        await close_all(alice, bob)


async def test_accounts_and_registered_channels_are_shared_and_outlive_every_node(start_cluster):
    """What lasts is in PostgreSQL: made on one node, used on another, there after all restart."""
    from support import service_notice, tell

    a, b = start_cluster("a", "b", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
    alice = await client(a, "alice")
    try:
        await tell(alice, "REGISTER alice-password", "NickServ")
        await service_notice(alice, "alice is now registered", "NickServ")
        await join(alice, "#lasting")
        await alice.send("TOPIC #lasting :kept in PostgreSQL")
        await alice.expect("TOPIC")
        await tell(alice, "REGISTER #lasting", "ChanServ")
        await service_notice(alice, "#lasting is now registered to alice", "ChanServ")
        await alice.close()
        # Node b: the account logs in there (PASS), and its founder gets op on join.
        alice = await register_when_free(b.port, "alice", "alice:alice-password")
        await alice.send("JOIN #lasting")
        assert (await alice.expect("332")).to_line() == ":irc.test 332 alice #lasting :kept in PostgreSQL"
        names = await alice.expect("353")
        assert names.params[3] == "@alice"
        await alice.close()
        # Every node stops; a fresh cluster on the same database and Redis has it all.
        a.stop()
        b.stop()
        a.start()
        alice = await register_when_free(a.port, "alice", "alice:alice-password")
        await alice.send("JOIN #lasting")
        assert (await alice.expect("332")).to_line() == ":irc.test 332 alice #lasting :kept in PostgreSQL"
        assert (await alice.expect("353")).params[3] == "@alice"
    finally:
        await alice.close()


async def test_what_was_acknowledged_as_stored_outlives_a_sigkill(start_cluster):
    """NickServ and ChanServ answer once PostgreSQL has the change: SIGKILL just after loses none."""
    from support import service_notice, tell

    a, b = start_cluster("a", "b", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
    alice = await client(a, "alice")
    try:
        await join(alice, "#kept")
        await alice.send("TOPIC #kept :stored with the registration")
        await alice.expect("TOPIC")
        await tell(alice, "REGISTER alice-password", "NickServ")
        await service_notice(alice, "alice is now registered", "NickServ")
        await tell(alice, "REGISTER #kept", "ChanServ")
        await service_notice(alice, "#kept is now registered to alice", "ChanServ")
        a.kill()  # at once: no goodbye, no flush on the way out
        await alice.close()
        # Node b: the account logs in (it is in PostgreSQL, not in a's memory).
        alice = await register_when_free(b.port, "alice", "alice:alice-password")
        await alice.close()
        # A fresh cluster (b stopped, a started again) reads both from PostgreSQL.
        b.stop()
        a.start()
        alice = await register_when_free(a.port, "alice", "alice:alice-password")
        await alice.send("JOIN #kept")
        assert (await alice.expect("332")).to_line() == (
            ":irc.test 332 alice #kept :stored with the registration"
        )
        assert (await alice.expect("353")).params[3] == "@alice"  # the founder, from the store
    finally:
        await alice.close()


async def register_when_free(port: int, nick: str, password: str, timeout: float = 10) -> RawClient:
    """Register `nick`, again after each 433 until the node has heard that its last user left."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        c = await RawClient.connect(port)
        await c.send(f"PASS {password}")
        c.nick = nick
        await c.send(f"NICK {nick}")
        await c.send("USER u 0 * :x")
        msg = await c.read_message()
        while msg is not None and msg.command not in ("001", "433"):
            msg = await c.read_message()
        if msg is not None and msg.command == "001":
            await c.expect("376")
            return c
        await c.close()
        assert asyncio.get_running_loop().time() < deadline, f"{nick} still in use after {timeout}s"


async def test_without_redis_a_node_serves_its_own_clients(start_cluster, cluster_settings):
    """Redis gone: chat between a node's own clients goes on; a new nick cannot be claimed (437)."""
    from support import start_redis

    own = start_redis()  # this test stops its Redis: not the session's
    cluster_settings["redis"] = own.url
    try:
        (a,) = start_cluster("a", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
        alice, amy = await client(a, "alice"), await client(a, "amy")
        try:
            await join(alice, "#local")
            await join(amy, "#local")
            await saw_join(alice, "amy", "#local")
            own.stop()
            await amy.send("PRIVMSG #local :still here")
            assert (await alice.expect("PRIVMSG")).to_line() == ":amy!~user@127.0.0.1 PRIVMSG #local :still here"
            late = await RawClient.connect(a.port)
            try:
                await late.send("NICK newcomer")
                await late.send("USER u 0 * :late")
                assert (await late.expect("437")).to_line() == (
                    ":irc.test 437 * newcomer :Nick is temporarily unavailable: the cluster cannot be reached"
                )
            finally:
                await late.close()
        finally:
            await close_all(alice, amy)
    finally:
        own.stop()


async def test_nodes_find_each_other_again_after_redis_restarts_empty(start_cluster, cluster_settings):
    """Redis restarted with nothing in it: both nodes rejoin, the users are back, chat works."""
    from support import start_redis

    own = start_redis()
    cluster_settings["redis"] = own.url
    second = None
    try:
        a, b = start_cluster("a", "b", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
        alice, bob = await client(a, "alice"), await client(b, "bob")
        try:
            await join(alice, "#chat")
            await all_members(bob, "#chat", 1)
            await join(bob, "#chat")
            await saw_join(alice, "bob", "#chat")
            second = restart_redis_empty(own)
            # Each node finds its heartbeat gone and rejoins; each sees the other come back.
            await asyncio.wait_for(saw_join(alice, "bob", "#chat"), DEAD_AFTER + 10)
            await asyncio.wait_for(saw_join(bob, "alice", "#chat"), DEAD_AFTER + 10)
            await alice.send("PRIVMSG #chat :are we back?")
            msg = await bob.expect("PRIVMSG", "#chat")
            assert msg.to_line() == ":alice!~user@127.0.0.1 PRIVMSG #chat :are we back?"
        finally:
            await close_all(alice, bob)
    finally:
        own.stop()
        if second is not None:
            second.terminate()
            second.wait(10)


def restart_redis_empty(own):
    """Stop the test's own redis-server and start an empty one on its port; the new process."""
    import subprocess

    from support import wait_for_port

    own.stop()
    second = subprocess.Popen(
        [own.proc.args[0], "--port", str(own.port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for_port(own.port, proc=second)
    return second


async def test_bans_changed_while_redis_was_away_hold_after_the_rejoin(start_cluster,
                                                                        cluster_settings):
    """K-lines set and lifted on a while Redis is down reach b when it rejoins (from the
    database both share): the new one cuts b's matching user, the lifted one lets in."""
    from support import start_redis

    own = start_redis()
    cluster_settings["redis"] = own.url
    second = None
    a, b = start_cluster("a", "b", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER, opers=root_opers())
    boss = await client(a, "boss")
    eve = await RawClient.connect(b.port, source="127.0.0.2")
    clients = [boss, eve]
    try:
        await eve.register("eve", user="eve")
        await oper_up(boss)
        await boss.send("KLINE ~old@127.0.0.5 :an old ban")
        await boss.expect("NOTICE")
        await asyncio.to_thread(b.wait_for_log, "K-line ~old@127.0.0.5 set on another node")
        own.stop()
        await boss.send("UNKLINE ~old@127.0.0.5")
        await boss.expect("NOTICE")
        await boss.send("KLINE ~eve@127.0.0.2 :set during the outage")
        await boss.expect("NOTICE")
        await eve.until_pong()  # b heard nothing of it: eve is still here
        second = restart_redis_empty(own)
        error = await eve.expect("ERROR", timeout=DEAD_AFTER + 10)  # b rejoined, read the bans
        assert error.params[0] == "Closing Link: 127.0.0.2 (K-lined: set during the outage)"
        old = await RawClient.connect(b.port, source="127.0.0.5")
        clients.append(old)
        await old.register("old", user="old")
    finally:
        await close_all(*clients)
        own.stop()
        if second is not None:
            second.terminate()
            second.wait(10)


# The survivor frozen below keeps a long dead_after, so nobody declares it dead meanwhile;
# the others declare a dead node quickly.
SLOW = {"heartbeat": 0.5, "dead_after": 8.0}
FAST = {"heartbeat": 0.3, "dead_after": 1.5}


@pytest.mark.parametrize("asked_on", ["the lagging node", "the prompt node"])
async def test_a_dead_nodes_nick_is_granted_once_while_the_survivors_disagree(
        start_cluster, cluster_settings, asked_on):
    """bob signs on at b while a is frozen; b dies; c removes b's claims; then a runs again.

    Asked on a first, bob's nick is granted there (the claim came back before a heard of
    b's bob) or refused (433: a shows b's bob), and then a must hold no claim of it, so
    that c grants it next. Asked on c first, c grants it, and a, which hears of c's bob
    while it still shows b's, must show c's.
    """
    (a,) = start_cluster("a", **SLOW)
    b, c = start_cluster("b", "c", **FAST)
    alice, carol = await client(a, "alice"), await client(c, "carol")
    early = await RawClient.connect(a.port)
    late = bob = None
    try:
        await join(alice, "#chat")
        await all_members(carol, "#chat", 1)
        await join(carol, "#chat")
        await saw_join(alice, "carol", "#chat")
        # A registration held open on a (CAP negotiation) as "bob", while no bob exists.
        await early.send("CAP LS 302")
        await early.send("NICK bob")
        await early.send("USER early 0 * :Real bob")
        await early.expect("CAP")
        a.pause()
        try:
            bob = await client(b, "bob")
            await join(bob, "#chat")
            await saw_join(carol, "bob", "#chat")
            b.kill()
            msg = await carol.expect("QUIT", timeout=FAST["dead_after"] + 5)
            assert msg.to_line() == ":bob!~user@127.0.0.1 QUIT :*.net *.split b lost"
            await wait_for_holder(cluster_settings, "bob", None)  # c removed b's claims
            if asked_on == "the lagging node":
                # Read by a when it runs again, next to b's bob signing on and joining.
                await early.send("CAP END")
            else:
                late = await RawClient.connect(c.port)
                await late.register("bob", user="late")
                await join(late, "#chat")
        finally:
            a.resume()
        winner, node = "late", "c"
        if asked_on == "the lagging node":
            if await registration_answer(early) == "001":
                winner, node = "early", "a"
                late, _ = await try_register(c.port, "bob")
                assert late.received[-1].to_line() == ":irc.test 433 * bob :Nickname is already in use"
            else:
                # a showed b's bob; once it declares b dead, no node holds the nick.
                await saw_join(alice, "bob", "#chat")
                msg = await alice.expect("QUIT", timeout=SLOW["heartbeat"] + 5)
                assert msg.to_line() == ":bob!~user@127.0.0.1 QUIT :*.net *.split b lost"
                await wait_for_holder(cluster_settings, "bob", None)
                late = await RawClient.connect(c.port)
                await late.register("bob", user="late")
                await join(late, "#chat")
                assert (await alice.expect("JOIN")).to_line() == ":bob!~late@127.0.0.1 JOIN #chat"
        else:
            # a hears of c's bob while it still shows b's: b's leaves, c's arrives.
            await saw_join(alice, "bob", "#chat")
            msg = await alice.expect("QUIT", timeout=SLOW["heartbeat"] + 5)
            assert msg.to_line() == ":bob!~user@127.0.0.1 QUIT :*.net *.split b lost"
            assert (await alice.expect("JOIN")).to_line() == ":bob!~late@127.0.0.1 JOIN #chat"
        # One bob, the same on both nodes, and his node holds the claim.
        assert await nick_holder(cluster_settings["redis"], cluster_settings["prefix"], "bob") == node
        for watcher in (alice, carol):
            lines = await reply_to(watcher, "WHOIS bob")
            assert lines[0] == f":irc.test 311 {watcher.nick} bob ~{winner} 127.0.0.1 * :Real bob"
    finally:
        await close_all(alice, carol, early, *(x for x in (bob, late) if x is not None))


async def wait_for_holder(settings: dict, nick: str, node: str | None, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (held := await nick_holder(settings["redis"], settings["prefix"], nick)) != node:
        assert asyncio.get_running_loop().time() < deadline, f"{nick} held by {held}, not {node}"
        await asyncio.sleep(0.02)  # polling Redis, with a deadline


async def register_once_free(port: int, nick: str, timeout: float = 10) -> RawClient:
    """Register `nick`, again after each 433 (its claim may take a heartbeat to go)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        c, answer = await try_register(port, nick)
        if answer == "001":
            await c.expect("376")
            return c
        await c.close()
        assert asyncio.get_running_loop().time() < deadline, f"{nick} still in use after {timeout}s"


async def test_a_nick_collision_after_a_split_ends_only_the_stale_user(start_cluster):
    """b frozen past dead_after; bob registers again on a; b wakes and loses the nick.

    b disconnects its stale bob (Nick collision), and that QUIT is b's user's: on a and c
    the new bob, another node's user, stays.
    """
    a, b, c = start_cluster("a", "b", "c", heartbeat=HEARTBEAT, dead_after=DEAD_AFTER)
    alice, carol, old_bob = await client(a, "alice"), await client(c, "carol"), await client(b, "bob")
    new_bob = None
    try:
        for member in (alice, carol, old_bob):
            await join(member, "#chat")
        await all_members(carol, "#chat", 3)
        b.pause()
        try:
            msg = await carol.expect("QUIT", timeout=DEAD_AFTER + 5)
            assert msg.to_line() == ":bob!~user@127.0.0.1 QUIT :*.net *.split b lost"
            new_bob = await register_once_free(a.port, "bob")
            await join(new_bob, "#chat")
            await saw_join(carol, "bob", "#chat")
        finally:
            b.resume()
        error = await old_bob.expect("ERROR", timeout=DEAD_AFTER + 5)
        assert "Nick collision" in error.params[0]
        # b is back (its users rejoin): a message from b reaches both sides...
        dave = await client(b, "dave")
        await join(dave, "#chat")
        await saw_join(carol, "dave", "#chat")
        await saw_join(new_bob, "dave", "#chat")
        await dave.send("PRIVMSG #chat :after the collision")
        for member in (carol, new_bob):
            assert (await member.expect("PRIVMSG", "#chat")).params[1] == "after the collision"
        # ...and the new bob was never quit anywhere: still in #chat on every node.
        for member in (alice, carol, dave):
            assert "bob" in await all_members(member, "#chat", 4)
        await new_bob.send("PRIVMSG #chat :still here")
        for member in (alice, carol, dave):
            assert (await member.expect("PRIVMSG", "#chat")).to_line() == (
                ":bob!~u@127.0.0.1 PRIVMSG #chat :still here")
    finally:
        await close_all(alice, carol, old_bob, *([new_bob] if new_bob else []))


async def test_a_late_quit_from_a_cut_off_node_spares_the_nicks_new_holder(start_cluster,
                                                                          cluster_settings):
    """A node cut off from the others may still send the QUIT of its old bob after bob's
    nick went to a user of another node: that QUIT is not the new bob's."""
    from redis.asyncio import Redis

    from words.cluster.keys import Keys

    a, c = start_cluster("a", "c")
    bob, carol = await client(a, "bob"), await client(c, "carol")
    redis = Redis.from_url(cluster_settings["redis"])
    try:
        await join(bob, "#chat")
        await all_members(carol, "#chat", 1)
        await join(carol, "#chat")
        await saw_join(bob, "carol", "#chat")
        # What node b (cut off, its bob long gone here) would publish for its bob.
        stale = {"t": "quit", "u": "bob", "r": "Quit: old", "n": "b", "ts": time.time(), "id": "x1"}
        await redis.publish(Keys(cluster_settings["prefix"]).all, json.dumps([stale]))
        await bob.send("PRIVMSG #chat :after the stale quit")
        # Redis delivers in order: c had the QUIT before this message, and ignored it.
        msg = await carol.read_message()
        assert msg is not None and msg.to_line() == ":bob!~user@127.0.0.1 PRIVMSG #chat :after the stale quit"
        assert await all_members(carol, "#chat", 2) == ["@bob", "carol"]
    finally:
        await redis.aclose()
        await close_all(bob, carol)
