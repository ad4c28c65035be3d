"""Server bans (K-lines and D-lines) in SQL: loaded at start, written when an oper sets one.

`write_behind` (the SQL realm's) queues a change behind the realm's others, retried
while the database is away (words.irc.serverbans uses it); `save` and `remove` are
the transactions themselves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select

from words.store import schema
from words.store.database import Database

server_bans = schema.server_bans


@dataclass(slots=True)
class ServerBanRecord:
    kind: str  # "k" (user@host) or "d" (address or CIDR)
    mask: str
    reason: str
    set_by: str
    set_at: float
    expires: float | None  # None: permanent


class ServerBanStore:
    def __init__(
        self, db: Database, casefold: Callable[[str], str],
        write_behind: Callable[[Coroutine[Any, Any, Any]], asyncio.Future],
    ) -> None:
        self.db = db
        self.casefold = casefold
        self.write_behind = write_behind

    async def all(self, now: float | None = None) -> list[ServerBanRecord]:
        """Every ban still in force (expired ones are left out, and deleted)."""
        now = time.time() if now is None else now

        def op(conn: Connection) -> list[ServerBanRecord]:
            conn.execute(delete(server_bans).where(server_bans.c.expires <= now))
            rows = conn.execute(select(server_bans).where(
                or_(server_bans.c.expires.is_(None), server_bans.c.expires > now)
            ).order_by(server_bans.c.set_at))
            return [ServerBanRecord(r.kind, r.mask, r.reason, r.set_by, r.set_at, r.expires)
                    for r in rows]

        return await self.db.run(op, "loading server bans")

    async def save(self, ban: ServerBanRecord) -> None:
        """Store `ban`, replacing one of the same kind and mask."""
        folded = self.casefold(ban.mask)

        def op(conn: Connection) -> None:
            conn.execute(delete(server_bans).where(
                server_bans.c.kind == ban.kind, server_bans.c.folded == folded))
            conn.execute(insert(server_bans).values(
                kind=ban.kind, mask=ban.mask, folded=folded, reason=ban.reason,
                set_by=ban.set_by, set_at=ban.set_at, expires=ban.expires,
            ))

        await self.db.run(op, f"storing the {ban.kind.upper()}-line {ban.mask}")

    async def remove(self, kind: str, mask: str) -> bool:
        folded = self.casefold(mask)
        return await self.db.run(
            lambda conn: conn.execute(delete(server_bans).where(
                server_bans.c.kind == kind, server_bans.c.folded == folded)).rowcount > 0,
            f"removing the {kind.upper()}-line {mask}",
        )
