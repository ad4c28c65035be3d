"""Helpers for the cluster tests (tests/words/cluster): clients on the nodes."""

from __future__ import annotations

from support import RawClient


async def client(node, nick: str) -> RawClient:
    """A client registered as `nick` on `node` (a tests/words/cluster Node)."""
    c = await RawClient.connect(node.port)
    await c.register(nick)
    return c


def root_opers() -> list[dict]:
    """The `opers:` config of one operator, root with password rootpw (see oper_up)."""
    from words.cred import DEFAULT_HASHER

    return [{"name": "root", "password": DEFAULT_HASHER.hash("rootpw")}]


async def oper_up(c: RawClient) -> None:
    """OPER as the root of root_opers()."""
    await c.send("OPER root rootpw")
    await c.expect("381")


async def try_register(port: int, nick: str) -> tuple[RawClient, str]:
    """Register `nick`; the first answer that decides: '001' or '433'."""
    c = await RawClient.connect(port)
    c.nick = nick
    await c.send(f"NICK {nick}")
    await c.send(f"USER u 0 * :{nick}")
    return c, await registration_answer(c)


async def registration_answer(c: RawClient) -> str:
    """Read until the answer that decides a registration: '001' or '433'."""
    while True:
        msg = await c.read_message()
        assert msg is not None, "connection closed during registration"
        if msg.command in ("001", "433"):
            return msg.command


async def reply_lines(c: RawClient, line: str) -> list[str]:
    """What the server answers to `line` (read up to a PONG), as lines."""
    await c.send(line)
    return [m.to_line() for m in await c.until_pong()]


async def close_all(*clients: RawClient) -> None:
    for c in clients:
        await c.close()


async def saw_join(c: RawClient, nick: str, channel: str) -> None:
    """Read until `nick`'s JOIN of `channel` (other JOINs may come first: another node's
    events arrive a moment later, in any order relative to this node's own)."""
    while True:
        msg = await c.expect("JOIN", channel)
        if msg.source and msg.source.split("!")[0] == nick:
            return


async def all_members(c: RawClient, channel: str, count: int, timeout: float = 10.0) -> list[str]:
    """NAMES `channel` until it lists `count` members (joins reach a node a moment later)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await c.send(f"NAMES {channel}")
        replies = [m for m in await c.until_pong() if m.command == "353" and m.params[2] == channel]
        members = sorted(replies[0].params[3].split()) if replies else []
        if len(members) == count:
            return members
        assert asyncio.get_running_loop().time() < deadline, f"{channel}: {members}, not {count}"


async def nick_holder(redis_url: str, prefix: str, nick: str) -> str | None:
    """The node that holds `nick`'s claim in Redis (None: free); `nick` already folded."""
    from redis.asyncio import Redis

    from words.cluster.keys import Keys

    redis = Redis.from_url(redis_url)
    try:
        owner = await redis.get(Keys(prefix).nick(nick))
    finally:
        await redis.aclose()
    return owner.decode() if owner is not None else None
