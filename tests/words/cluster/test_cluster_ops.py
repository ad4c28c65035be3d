"""Running a cluster: `words cluster status`, the config switch, SO_REUSEPORT on one port."""

from __future__ import annotations

import asyncio
import json

import pytest
from cluster_support import client, close_all, try_register
from support import run_words

from words.config import ConfigError, config_from_mapping


async def status(node) -> list[dict]:
    """`words cluster status --json` with `node`'s config (a subprocess, run in a thread)."""
    result = await asyncio.to_thread(
        run_words, "cluster", "status", "--config", str(node.config_path), "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


async def status_until(node, check, what: str, timeout: float = 15.0) -> list[dict]:
    """`status(node)` until `check(nodes)` holds (the figures move once a heartbeat)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        nodes = await status(node)  # each run takes a good part of a second: no sleep needed
        if check(nodes):
            return nodes
        assert loop.time() < deadline, f"timed out after {timeout}s waiting for {what}: {nodes}"


async def test_cluster_status_shows_nodes_clients_lag_and_the_dead(start_cluster, cluster_settings):
    a, b, c = start_cluster("a", "b", "c")
    alice, bob, bert = await client(a, "alice"), await client(b, "bob"), await client(b, "bert")
    try:
        # The figures are those of each node's last heartbeat (every 0.5 s here); lag is
        # the round trip of its last ping through Redis, measured from its second beat.
        def counted(nodes: list[dict]) -> bool:
            return ({n["node"]: n["clients"] for n in nodes} == {"a": 1, "b": 2, "c": 0}
                    and all(n["lag"] > 0 for n in nodes))

        nodes = {n["node"]: n for n in await status_until(a, counted, "clients counted per node")}
        assert all(n["alive"] for n in nodes.values())
        assert nodes["a"]["users"] == 5  # alice, bob, bert, NickServ, ChanServ
        assert all(n["lag"] < 1.0 and 0 <= n["beat_age"] < 2.0 for n in nodes.values()), nodes
        table = await asyncio.to_thread(run_words, "cluster", "status", "--config", str(a.config_path))
        assert table.returncode == 0
        assert "3 of 3 nodes alive, 3 clients" in table.stdout
        # The start-up summary says which node this is and where its Redis is.
        summary = f"node a on {cluster_settings['redis']} (prefix {cluster_settings['prefix']})"
        await asyncio.to_thread(a.wait_for_log, summary)

        # A killed node is listed as dead (its heartbeat expired); a stopped one is not
        # listed at all (it removed its heartbeat on the way out).
        c.kill()
        nodes = {n["node"]: n for n in await status_until(
            a, lambda nodes: any(n["node"] == "c" and not n["alive"] for n in nodes), "c dead")}
        assert nodes["a"]["alive"] and nodes["b"]["alive"]
        assert nodes["c"]["beat_age"] >= 2.0  # dead_after
        table = await asyncio.to_thread(run_words, "cluster", "status", "--config", str(a.config_path))
        row = next(line for line in table.stdout.splitlines() if line.startswith(("│ c ", "┃ c ")))
        assert "dead" in row and "alive" not in row
        assert "2 of 3 nodes alive, 3 clients" in table.stdout
        b.stop()
        await status_until(a, lambda nodes: sorted(n["node"] for n in nodes) == ["a", "c"], "b gone")
    finally:
        await close_all(alice, bob, bert)


async def test_nodes_started_with_the_command_line_switches_join_and_chat(start_cluster):
    """`words serve --cluster` and `--node NAME` on configs whose cluster section is off."""
    from cluster_support import all_members, saw_join
    from support import join

    (a,) = start_cluster("a")
    (b,) = start_cluster("b", switch="--cluster")  # the config's node name, turned on here
    (c,) = start_cluster("c", switch="--node")  # the config names no node: --node c does
    assert b.args == ("--cluster",) and c.args == ("--node", "c")
    alice, bob, carol = await client(a, "alice"), await client(b, "bob"), await client(c, "carol")
    try:
        for node in (b, c):
            await asyncio.to_thread(node.wait_for_log, f"node {node.name} on ")
        await join(alice, "#chat")
        await all_members(bob, "#chat", 1)
        await join(bob, "#chat")
        await all_members(carol, "#chat", 2)
        await join(carol, "#chat")
        await saw_join(alice, "carol", "#chat")
        await saw_join(bob, "carol", "#chat")
        await bob.send("PRIVMSG #chat :from b")
        for other in (alice, carol):
            assert (await other.expect("PRIVMSG")).to_line() == ":bob!~user@127.0.0.1 PRIVMSG #chat :from b"
        await carol.send("PRIVMSG #chat :from c")
        for other in (alice, bob):
            assert (await other.expect("PRIVMSG")).to_line() == ":carol!~user@127.0.0.1 PRIVMSG #chat :from c"
        assert sorted((n["node"], n["alive"]) for n in await status(a)) == [
            ("a", True), ("b", True), ("c", True)]
    finally:
        await close_all(alice, bob, carol)


async def test_the_redis_password_is_never_shown(start_cluster, cluster_settings):
    """In the start-up summary, the log, `cluster status` and its errors: `redis://:***@...`."""
    from support import start_redis

    own = start_redis("--requirepass", "s3cret-pw")
    try:
        cluster_settings["redis"] = f"redis://:s3cret-pw@127.0.0.1:{own.port}/0"
        shown = f"redis://:***@127.0.0.1:{own.port}/0"
        (a,) = start_cluster("a")
        summary = f"node a on {shown} (prefix {cluster_settings['prefix']})"
        await asyncio.to_thread(a.wait_for_log, summary)
        assert f"node a joined the cluster at {shown} (prefix" in a.log()  # the log line
        table = await asyncio.to_thread(run_words, "cluster", "status", "--config", str(a.config_path))
        assert table.returncode == 0 and f"words cluster {cluster_settings['prefix']!r} on {shown}" in table.stdout
        wrong = await asyncio.to_thread(
            run_words, "cluster", "status", "--redis", f"redis://:wrong-pw@127.0.0.1:{own.port}/0")
        assert wrong.returncode == 1
        assert wrong.stdout.startswith(
            f"words: error: cannot read the cluster from redis://:***@127.0.0.1:{own.port}/0: ")
        a.stop()
        everything = a.log() + table.stdout + table.stderr + wrong.stdout + wrong.stderr
        assert "s3cret-pw" not in everything and "wrong-pw" not in everything
    finally:
        own.stop()


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:secret@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://user:secret@host/0", "redis://user:***@host/0"),
    ("rediss://user@host/0", "rediss://user@host/0"),
    ("redis://host/0?db=1&password=secret", "redis://host/0?db=1&password=***"),
    ("unix://:secret@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
])
def test_redacted_urls(url, shown):
    from words.cluster.settings import redacted

    assert redacted(url) == shown


def test_cluster_status_without_redis_fails_cleanly():
    result = run_words("cluster", "status", "--redis", "redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert result.stdout.startswith("words: error: cannot read the cluster from redis://127.0.0.1:1/0:")


async def test_nodes_sharing_one_port_with_reuse_port(start_cluster):
    a, b = start_cluster("a", "b", reuse_port=True)
    assert a.port == b.port
    clients = [(await try_register(a.port, f"user{i}"))[0] for i in range(16)]
    try:
        def spread(nodes: list[dict]) -> bool:
            counts = {n["node"]: n["clients"] for n in nodes}
            return sum(counts.values()) == 16 and all(counts.get(x, 0) > 0 for x in "ab")

        # The kernel spreads connections by address hash: 16 land on both nodes.
        await status_until(a, spread, "connections on both nodes")
    finally:
        await close_all(*clients)


@pytest.mark.parametrize(("section", "problem"), [
    ({"node": "a b"}, "cluster.node: must be 1-63 letters, digits"),
    ({"redis": "http://x"}, "cluster.redis: not a Redis URL: 'http://x' (try redis://127.0.0.1:6379/0)"),
    ({"heartbeat": 2, "dead_after": 3}, "cluster.dead_after: must be at least twice the heartbeat (2 s), got 3"),
    ({"shards": 2}, "cluster.shards: unknown key"),
])
def test_bad_cluster_config_names_the_key(section, problem):
    data = {"realm": {"database": "postgresql://words@127.0.0.1/words"}, "cluster": section}
    with pytest.raises(ConfigError) as raised:
        config_from_mapping(data, "node.yaml")
    assert str(raised.value).startswith(f"node.yaml: {problem}")


def test_cluster_needs_postgresql():
    with pytest.raises(ConfigError) as raised:
        config_from_mapping({"cluster": {"node": "a"}}, "node.yaml")
    assert str(raised.value) == (
        "node.yaml: cluster: needs realm.database on PostgreSQL (every node shares its accounts "
        "and channels)"
    )
    # enabled: false keeps the section without cluster mode (and without PostgreSQL).
    config = config_from_mapping({"cluster": {"node": "a", "enabled": False}}, "node.yaml")
    assert config.cluster is not None and not config.cluster.enabled


def test_serve_cluster_switch_needs_postgresql():
    result = run_words("serve", "--cluster", "--listen", "127.0.0.1:0")
    assert result.returncode == 2
    assert result.stderr == (
        "words: error: <defaults>: cluster: needs realm.database on PostgreSQL (every node "
        "shares its accounts and channels)\n"
    )


def test_cluster_without_the_redis_package_is_a_config_error(monkeypatch):
    import builtins

    from words.app import build_server

    real_import = builtins.__import__

    def no_redis(name, *args, **kwargs):
        if name == "redis" or name.startswith("redis."):
            raise ImportError("No module named 'redis'")
        return real_import(name, *args, **kwargs)

    import sys

    for module in [m for m in sys.modules if m == "words.cluster.link" or m.startswith("redis")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setattr(builtins, "__import__", no_redis)
    config = config_from_mapping(
        {"realm": {"database": "postgresql://words@127.0.0.1/words"}, "cluster": {"node": "a"}},
        "node.yaml",
    )
    with pytest.raises(ConfigError) as raised:
        build_server(config)
    assert str(raised.value) == "node.yaml: cluster: needs the redis package: pip install 'words[cluster]'"


async def test_a_channel_message_goes_once_to_each_node_with_members(start_cluster, cluster_settings):
    """Counted by the nodes themselves (their heartbeats): once per node, never per member."""
    from cluster_support import all_members
    from support import join

    from words.cluster.status import read_nodes

    async def applied() -> dict[str, int]:
        nodes = await read_nodes(cluster_settings["redis"], cluster_settings["prefix"])
        return {n["node"]: n["applied"] for n in nodes}

    async def settled() -> dict[str, int]:
        """The counts once two heartbeats (0.5 s apart) report the same."""
        last = await applied()
        while True:
            await asyncio.sleep(0.6)  # polling counters that move once a heartbeat (deadline: wait_for)
            now = await applied()
            if now == last:
                return now
            last = now

    a, b, c = start_cluster("a", "b", "c")
    alice = await client(a, "alice")
    members = [await client(b, f"bob{i}") for i in range(5)]
    carol = await client(c, "carol")
    try:
        await join(alice, "#fan")
        for m in members:
            await join(m, "#fan")
        await join(carol, "#elsewhere")
        await all_members(alice, "#fan", 6)
        await all_members(carol, "#fan", 6)  # node c knows the channel, it has no member there
        before = await asyncio.wait_for(settled(), 15)
        for i in range(10):
            await alice.send(f"PRIVMSG #fan :{i}")
        for m in members:
            got = [(await m.expect("PRIVMSG", "#fan")).params[1] for _ in range(10)]
            assert got == [str(i) for i in range(10)]
        after = await asyncio.wait_for(settled(), 15)
        assert after["b"] - before["b"] == 10  # ten messages for five members: once each
        assert after["c"] == before["c"]  # no member on node c: nothing sent there
    finally:
        await close_all(alice, carol, *members)
