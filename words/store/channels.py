"""Registered channels: founder, topic, settings, mask lists and access list."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from words.store import schema
from words.store.database import Database

channels, masks, access = schema.channels, schema.channel_masks, schema.channel_access


@dataclass(slots=True)
class ChannelRecord:
    name: str
    founder: str
    created: float
    topic: str = ""
    topic_author: str = ""
    topic_time: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)  # flags, key, limit
    masks: list[tuple[str, str, str, float]] = field(default_factory=list)  # kind, mask, by, at
    access: dict[str, str] = field(default_factory=dict)  # folded account -> op/voice


class ChannelStore:
    def __init__(self, db: Database, casefold: Callable[[str], str]) -> None:
        self.db = db
        self.casefold = casefold

    def _id(self, conn: Connection, name: str) -> int | None:
        return conn.execute(select(channels.c.id).where(channels.c.folded == self.casefold(name))).scalar()

    async def register(self, record: ChannelRecord) -> bool:
        """Store a channel with everything it has now; False if it is registered already."""

        def op(conn: Connection) -> bool:
            try:
                with conn.begin_nested():
                    channel_id = conn.execute(insert(channels).values(
                        name=record.name, folded=self.casefold(record.name), founder=record.founder,
                        created=record.created, topic=record.topic, topic_author=record.topic_author,
                        topic_time=record.topic_time, settings=json.dumps(record.settings),
                    )).inserted_primary_key[0]
            except IntegrityError:
                return False
            for kind, mask, set_by, set_at in record.masks:
                conn.execute(insert(masks).values(
                    channel_id=channel_id, kind=kind, mask=mask, folded=self.casefold(mask),
                    set_by=set_by, set_at=set_at,
                ))
            for account, level in record.access.items():
                conn.execute(insert(access).values(channel_id=channel_id, account=account, level=level))
            return True

        return await self.db.run(op, f"registering {record.name}")

    async def drop(self, name: str) -> bool:
        folded = self.casefold(name)
        return await self.db.run(
            lambda conn: conn.execute(delete(channels).where(channels.c.folded == folded)).rowcount > 0,
            f"dropping {name}",
        )

    async def all(self) -> list[ChannelRecord]:
        def op(conn: Connection) -> list[ChannelRecord]:
            records = {}
            for row in conn.execute(select(channels).order_by(channels.c.folded)):
                records[row.id] = ChannelRecord(
                    row.name, row.founder, row.created, row.topic, row.topic_author,
                    row.topic_time, json.loads(row.settings or "{}"),
                )
            for row in conn.execute(select(masks).order_by(masks.c.set_at)):
                records[row.channel_id].masks.append((row.kind, row.mask, row.set_by, row.set_at))
            for row in conn.execute(select(access)):
                records[row.channel_id].access[row.account] = row.level
            return list(records.values())

        return await self.db.run(op, "loading registered channels")

    async def save_topic(self, name: str, topic: str, author: str, when: float) -> None:
        await self._update(name, f"saving the topic of {name}",
                           topic=topic, topic_author=author, topic_time=when)

    async def save_settings(self, name: str, settings: dict[str, Any]) -> None:
        await self._update(name, f"saving the modes of {name}", settings=json.dumps(settings))

    async def save_mask(self, name: str, kind: str, mask: str, set_by: str, set_at: float, add: bool) -> None:
        folded_mask = self.casefold(mask)

        def op(conn: Connection) -> None:
            channel_id = self._id(conn, name)
            if channel_id is None:
                return
            conn.execute(delete(masks).where(
                masks.c.channel_id == channel_id, masks.c.kind == kind, masks.c.folded == folded_mask
            ))
            if add:
                conn.execute(insert(masks).values(
                    channel_id=channel_id, kind=kind, mask=mask, folded=folded_mask,
                    set_by=set_by, set_at=set_at,
                ))

        await self.db.run(op, f"saving a {kind} of {name}")

    async def save_access(self, name: str, account: str, level: str | None) -> None:
        """Set (op, voice) or remove (None) an account's access to a channel."""

        def op(conn: Connection) -> None:
            channel_id = self._id(conn, name)
            if channel_id is None:
                return
            conn.execute(delete(access).where(access.c.channel_id == channel_id, access.c.account == account))
            if level is not None:
                conn.execute(insert(access).values(channel_id=channel_id, account=account, level=level))

        await self.db.run(op, f"saving the access list of {name}")

    async def _update(self, name: str, what: str, **values: Any) -> None:
        folded = self.casefold(name)
        await self.db.run(
            lambda conn: conn.execute(update(channels).where(channels.c.folded == folded).values(**values)),
            what,
        )
