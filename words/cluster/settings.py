"""The `cluster:` section of the configuration (checked here, used by words.cluster.link)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_PASSWORD_PARAM = re.compile(r"((?:^|&)password=)[^&]*")


@dataclass(frozen=True, slots=True)
class Cluster:
    """One node of a words network on PostgreSQL (what lasts) and Redis (what is live).

    `prefix` starts every Redis key and pub/sub channel of this network: Redis
    pub/sub ignores the database number, so two networks sharing a Redis need
    different prefixes.
    """

    enabled: bool = True
    redis: str = "redis://127.0.0.1:6379/0"
    node: str = ""  # this node's name, unique in the network; default: the host name
    prefix: str = "words"
    heartbeat: float = 2.0  # seconds between this node's heartbeats
    dead_after: float = 10.0  # seconds without a heartbeat before a node is declared dead
    # Listen with SO_REUSEPORT: several nodes on one machine share the listen ports
    # and the kernel spreads new connections over them.
    reuse_port: bool = False

    @property
    def node_name(self) -> str:
        return self.node or default_node_name()


def default_node_name() -> str:
    name = socket.gethostname().split(".")[0] or "node"
    return name if _NODE_NAME.match(name) else "node"


def redacted(url: str) -> str:
    """`url` fit to show or log: any password replaced by `***`.

    `redis://:secret@host` -> `redis://:***@host`, `redis://user:secret@host` ->
    `redis://user:***@host`, and a `password=` query parameter likewise.
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if colon else netloc
    query = _PASSWORD_PARAM.sub(r"\1***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def check_node_name(name: str) -> str | None:
    """What is wrong with `name` as a node name, or None."""
    if not _NODE_NAME.match(name):
        return "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


def parse_cluster(reader: Any, value: Any, database: str | None) -> Cluster:
    """The `cluster:` mapping -> Cluster; `reader` is words.config's key-naming checker."""
    section = reader.mapping(value, "cluster")
    reader.known(section, "cluster", {"enabled", "redis", "node", "prefix", "heartbeat", "dead_after",
                                      "reuse_port"})
    values: dict[str, Any] = {}
    for key in ("enabled", "reuse_port"):
        if key in section:
            values[key] = reader.boolean(section[key], f"cluster.{key}")
    if "redis" in section:
        url = reader.text(section["redis"], "cluster.redis")
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise reader.fail("cluster.redis",
                              f"not a Redis URL: {redacted(url)!r} (try redis://127.0.0.1:6379/0)")
        values["redis"] = url
    if "node" in section:
        node = reader.text(section["node"], "cluster.node")
        problem = check_node_name(node)
        if problem is not None:
            raise reader.fail("cluster.node", problem)
        values["node"] = node
    if "prefix" in section:
        prefix = reader.text(section["prefix"], "cluster.prefix")
        if any(c.isspace() for c in prefix):
            raise reader.fail("cluster.prefix", "must not contain spaces")
        values["prefix"] = prefix
    for key in ("heartbeat", "dead_after"):
        if key in section:
            values[key] = reader.number(section[key], f"cluster.{key}")
    cluster = Cluster(**values)
    if cluster.dead_after < 2 * cluster.heartbeat:
        raise reader.fail(
            "cluster.dead_after",
            f"must be at least twice the heartbeat ({cluster.heartbeat:g} s), got {cluster.dead_after:g}",
        )
    if cluster.enabled:
        check_database(reader, database)
    return cluster


def check_database(reader: Any, database: str | None) -> None:
    """Cluster mode needs the SQL realm on PostgreSQL: every node must see the same accounts."""
    if not database or not database.startswith("postgresql"):
        raise reader.fail(
            "cluster",
            "needs realm.database on PostgreSQL (every node shares its accounts and channels)",
        )
