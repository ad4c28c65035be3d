"""`words cluster status`: the nodes of a network, their clients and lag, from Redis."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from rich.table import Table

from words.cluster.keys import Keys
from words.console import table_console


def add_parser(sub: Any) -> None:
    cluster = sub.add_parser("cluster", help="inspect a words cluster (nodes on Redis)")
    actions = cluster.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="nodes, their clients and lag")
    status.add_argument("--config", "-c", metavar="FILE", help="a node's YAML config (its cluster: section)")
    status.add_argument("--redis", metavar="URL", help="Redis URL (default: the config's, else redis://127.0.0.1:6379/0)")
    status.add_argument("--prefix", metavar="PREFIX", help="key prefix of the network (default: the config's, else words)")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(run=run_status, help_auth=False)


def run_status(args: argparse.Namespace) -> int:
    from words.cluster.settings import Cluster, redacted
    from words.config import ConfigError, load_config

    settings = Cluster()
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"words: error: {exc}")
            return 2
        settings = config.cluster or settings
    url = args.redis or settings.redis
    prefix = args.prefix or settings.prefix
    from redis.exceptions import RedisError

    try:
        nodes = asyncio.run(read_nodes(url, prefix))
    except (RedisError, OSError) as exc:
        print(f"words: error: cannot read the cluster from {redacted(url)}: {exc}")
        return 1
    if args.json:
        print(json.dumps(nodes, indent=2))
        return 0
    print_table(nodes, redacted(url), prefix, settings.dead_after)
    return 0


async def read_nodes(url: str, prefix: str) -> list[dict[str, Any]]:
    """Each node's last heartbeat, whether it is alive (its key has not expired), its lag.

    `lag`: the round trip of the node's last ping through Redis (its writer's queue,
    Redis, its reader), as its last heartbeat reported it; `beat_age`: seconds since
    that heartbeat. A dead node is listed (not alive) for an hour after its last beat.
    """
    from redis.asyncio import Redis

    keys = Keys(prefix)
    redis = Redis.from_url(url)
    try:
        raw = await redis.hgetall(keys.nodes)
        names = sorted(name.decode() for name in raw)
        alive = await redis.mget([keys.alive(n) for n in names]) if names else []
    finally:
        await redis.aclose()
    now = time.time()
    nodes = []
    for name, beat in zip(names, alive):
        info = json.loads(raw[name.encode()])
        info["node"] = name
        info["alive"] = beat is not None and beat.decode() == info.get("boot")
        info["lag"] = info.get("lag")  # None: a node too old to measure it
        info["beat_age"] = round(max(0.0, now - info.get("beat", 0.0)), 3)
        nodes.append(info)
    return nodes


def print_table(nodes: list[dict[str, Any]], url: str, prefix: str, dead_after: float) -> None:
    console = table_console()
    table = Table(title=f"words cluster {prefix!r} on {url}")
    # "beat": how long ago the node's last heartbeat was written.
    for column in ("node", "state", "clients", "users", "channels", "lag", "beat", "up",
                   "published", "applied"):
        table.add_column(column, justify="left" if column in ("node", "state") else "right")
    now = time.time()
    for node in nodes:
        state = "[green]alive[/green]" if node["alive"] else "[red]dead[/red]"
        lag = node["lag"]
        lag_text = "-" if lag is None else f"{lag * 1000:.1f} ms"
        beat_text = f"{node['beat_age']:.1f} s"
        if node["alive"] and node["beat_age"] > dead_after / 2:
            beat_text = f"[yellow]{beat_text}[/yellow]"
        table.add_row(
            node["node"], state, str(node.get("clients", 0)), str(node.get("users", 0)),
            str(node.get("channels", 0)), lag_text, beat_text,
            _duration(node.get("beat", now) - node.get("started", now)),
            str(node.get("published", 0)), str(node.get("applied", 0)),
        )
    if not nodes:
        table.caption = "no node has a heartbeat here"
    else:
        total = sum(int(n.get("clients", 0)) for n in nodes if n["alive"])
        table.caption = f"{sum(n['alive'] for n in nodes)} of {len(nodes)} nodes alive, {total} clients"
    console.print(table)


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
