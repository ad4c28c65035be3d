"""History in SQL: records written behind, in batches, on the database thread.

The realm's subscriber only appends to a list; the list is written in one
transaction per loop iteration (a burst of messages costs one commit, not
one per message), on the database's single thread, so the event loop never
waits for SQL. A read first hands the pending rows to that thread: it runs
after them and sees them. Chat never waits for the database: while it
is away (a transient failure) the records wait in memory, at most
`MAX_WAITING` of them (then the oldest are dropped, and that is logged), and
are written again after a pause (0.1 s doubling to 5 s); a write the
database refuses (a bug, a missing table) is logged and those records are
lost. Failures are counted by the metrics as database errors.

Retention: after each batch the conversations it touched are cut to their
newest `lines` records, and at most once a minute records older than their
`age` are deleted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select

from words.realm.history import (
    MEMBERSHIP_KINDS,
    MESSAGE_KINDS,
    Entry,
    History,
    HistoryRecord,
    Query,
    Ref,
    Retention,
    after_time,
    before_time,
    membership_of,
    target_name,
)
from words.store import schema
from words.store.database import RETRY_MAX, RETRY_MIN, Database, StoreError

log = logging.getLogger("words.store")

history = schema.history

# Seconds between two deletions of records past their age.
_AGE_PRUNE_SECONDS = 60.0
# Records kept in memory while the database is away; beyond, the oldest are dropped.
MAX_WAITING = 10000


class SQLHistory(History):
    def __init__(self, db: Database, casefold: Callable[[str], str],
                 retention: Retention | None = None, *, private: bool = True) -> None:
        super().__init__(casefold, retention, private=private)
        self.db = db
        self._pending: list[Entry] = []
        self._flush_handle: asyncio.Handle | None = None
        self._writes: set[asyncio.Future] = set()
        self._last_age_prune = 0.0
        self._recount = False
        self._retry_delay = RETRY_MIN

    def configure(self, retention: Retention, *, private: bool) -> None:
        super().configure(retention, private=private)
        self._last_age_prune = 0.0  # the next write prunes by the new ages
        self._recount = True  # ... and cuts every conversation to its new length

    # -- writing behind ------------------------------------------------------------------

    def store(self, entries: list[Entry]) -> None:
        self._pending.extend(entries)
        if self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a synchronous caller): the next read or flush writes them
            self._flush_handle = loop.call_soon(self._write_pending)

    def _write_pending(self) -> None:
        """Hand every pending entry to the database thread, as one transaction."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending and not self._recount:
            return
        entries, self._pending = self._pending, []
        now = time.time()
        prune_age = now - self._last_age_prune >= _AGE_PRUNE_SECONDS
        if prune_age:
            self._last_age_prune = now
        recount, self._recount = self._recount, False
        task = self.db.submit(
            lambda conn: self._insert(conn, entries, now, prune_age, recount),
            f"storing {len(entries)} history records",
        )
        self._writes.add(task)
        task.add_done_callback(lambda done: self._written(done, entries, recount))

    def _written(self, task: asyncio.Future, entries: list[Entry], recount: bool) -> None:
        self._writes.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            self._retry_delay = RETRY_MIN
            return
        if isinstance(exc, StoreError) and exc.transient and not self.db._closing:
            # The database is away: keep them (before what came since) and try again later.
            self._pending[:0] = entries
            self._recount = self._recount or recount
            dropped = len(self._pending) - MAX_WAITING
            if dropped > 0:
                del self._pending[:dropped]
                log.error("the database is away: %d history records dropped (more than %d "
                          "waiting)", dropped, MAX_WAITING)
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            self._flush_handle = asyncio.get_running_loop().call_later(
                self._retry_delay, self._write_pending)
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX)
            return
        # Database.run_sync logged it (and the metrics counted it); chat goes on.
        log.error("%d history records were not stored: %s", len(entries), exc)

    async def flush(self) -> None:
        """Write what is pending and wait for it (records still waiting for the database
        stay waiting: `waiting` says how many)."""
        self._write_pending()
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    @property
    def waiting(self) -> int:
        return len(self._pending)

    async def close(self) -> None:
        await self.flush()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._pending:
            log.error("%d history records could not be stored before closing", len(self._pending))

    def _insert(self, conn: Connection, entries: list[Entry], now: float, prune_age: bool,
                recount: bool = False) -> None:
        if entries:
            conn.execute(insert(history), [_row(entry) for entry in entries])
        retention = self.retention
        keys = {entry.key for entry in entries}
        if recount:
            keys.update(conn.execute(select(history.c.conversation).distinct()).scalars())
        for key in keys:
            newest = (
                select(history.c.id).where(history.c.conversation == key)
                .order_by(history.c.id.desc()).offset(retention.lines_for(key)).limit(1)
                .scalar_subquery()
            )
            conn.execute(delete(history).where(history.c.conversation == key,
                                               history.c.id <= newest))
        if prune_age:
            self._prune_age(conn, now)

    def _prune_age(self, conn: Connection, now: float) -> None:
        retention = self.retention
        special = list(retention.channels)
        for key, (_, age) in retention.channels.items():
            if age is not None:
                conn.execute(delete(history).where(history.c.conversation == key,
                                                   history.c.time < now - age))
        if retention.age is not None:
            condition = history.c.time < now - retention.age
            if special:
                condition = and_(condition, history.c.conversation.not_in(special))
            conn.execute(delete(history).where(condition))

    # -- reading -----------------------------------------------------------------------------

    async def _read(self, fn: Callable[[Connection], Any], what: str) -> Any:
        self._write_pending()  # queued before this read on the one database thread
        return await self.db.run(fn, what)

    async def select(self, query: Query) -> list[HistoryRecord]:
        return await self._read(lambda conn: self._select(conn, query, time.time()),
                                "reading history")

    async def position(self, keys: tuple[str, ...], ref: Ref) -> tuple[float, int] | None:
        if ref.msgid is None:
            return (ref.time or 0.0, 0)

        def op(conn: Connection) -> tuple[float, int] | None:
            row = _locate(conn, keys, ref.msgid)
            return (row.time, row.id) if row is not None else None

        return await self._read(op, "reading history")

    def _select(self, conn: Connection, query: Query, now: float) -> list[HistoryRecord]:
        if query.limit <= 0:
            return []
        c = history.c
        conditions = [c.conversation.in_(query.keys)]
        if query.after is not None:
            condition = self._bound(conn, query, query.after, lower=True)
            if condition is None:
                return []
            conditions.append(condition)
        if query.before is not None:
            condition = self._bound(conn, query, query.before, lower=False)
            if condition is None:
                return []
            conditions.append(condition)
        if query.kinds is not None:
            conditions.append(c.kind.in_(sorted(query.kinds)))
        if query.since is not None:
            conditions.append(c.time >= query.since)
        if query.until is not None:
            conditions.append(c.time <= query.until)
        conditions.append(self._fresh(query.keys, now))
        # By time (then id, the order within one node's writes): in a cluster each node
        # writes behind into this table, so ids are not quite in time order.
        order = (c.time.desc(), c.id.desc()) if query.newest else (c.time, c.id)
        rows = conn.execute(
            select(c.id, c.msgid, c.time, c.kind, c.data).where(*conditions)
            .order_by(*order).limit(query.limit)
        ).all()
        if query.newest:
            rows.reverse()
        return [_record(row.msgid, row.time, row.kind, row.data) for row in rows]

    def _bound(self, conn: Connection, query: Query, ref: Ref, *, lower: bool):
        """The SQL condition for one side of a query; None for an unknown msgid."""
        c = history.c
        if ref.msgid is not None:
            row = _locate(conn, query.keys, ref.msgid)
            if row is None:
                return None
            # The position (time, id) of the referenced record, in the order of _select.
            same_time = c.time == row.time
            if lower:
                after = c.id >= row.id if query.after_inclusive else c.id > row.id
                return or_(c.time > row.time, and_(same_time, after))
            return or_(c.time < row.time, and_(same_time, c.id < row.id))
        if lower:
            return c.time >= after_time(ref, query.after_inclusive)
        return c.time < before_time(ref)

    def _fresh(self, keys: Iterable[str], now: float):
        """Records not past their conversation's age (pruning runs only once a minute)."""
        ages = {self.retention.age_for(key) for key in keys}
        age = min((a for a in ages if a is not None), default=None)
        return history.c.time >= now - age if age is not None else history.c.time.is_not(None)

    async def latest_times(
        self, channel_keys: Iterable[str], party: str | None, start: float, end: float,
        limit: int, since: float | None = None,
    ) -> list[tuple[str, float]]:
        channel_keys = list(channel_keys)
        now = time.time()

        def op(conn: Connection) -> list[tuple[str, float]]:
            c = history.c
            window = [c.time > start, c.time < end, c.kind.in_(sorted(MESSAGE_KINDS))]
            latest: list[Any] = []
            if channel_keys:
                latest.append(
                    select(func.max(c.id)).where(c.conversation.in_(channel_keys), *window)
                    .group_by(c.conversation)
                )
            if party is not None:
                mine = [or_(c.party_a == party, c.party_b == party), *window]
                if since is not None:
                    mine.append(c.time >= since)
                latest.append(select(func.max(c.id)).where(*mine).group_by(c.conversation))
            found: list[tuple[float, str]] = []
            for ids in latest:
                for row in conn.execute(select(history).where(c.id.in_(ids))):
                    age = self.retention.age_for(row.conversation)
                    if age is not None and row.time < now - age:
                        continue
                    found.append((row.time, target_name(_entry(row), party)))
            found.sort()
            return [(name, when) for when, name in found[:limit]]

        return await self._read(op, "listing history targets")

    async def membership(self, key: str, account: str) -> tuple[bool, float | None]:
        def op(conn: Connection) -> tuple[bool, float | None]:
            c = history.c
            rows = conn.execute(
                select(c.kind, c.time).where(
                    c.conversation == key, c.subject == account,
                    c.kind.in_(MEMBERSHIP_KINDS), self._fresh([key], time.time()),
                ).order_by(c.time, c.id)
            ).all()
            return membership_of((kind, when) for kind, when in rows)

        return await self._read(op, "reading channel membership history")


# -- rows <-> records --------------------------------------------------------------------------

_DATA_FIELDS = ("sender", "sender_mask", "target", "text", "account", "action", "tags", "bot",
                "user", "realname", "changes")


def _row(entry: Entry) -> dict[str, Any]:
    record = entry.record
    data = {name: getattr(record, name) for name in _DATA_FIELDS}
    # Only what differs from the defaults: most records are a sender and a text.
    data = {k: v for k, v in data.items() if v not in (None, False, "", ())}
    parties = entry.parties
    return {
        "conversation": entry.key, "msgid": record.msgid, "time": record.time,
        "kind": record.kind, "party_a": parties[0] if parties else None,
        "party_b": parties[1] if parties else None, "party": entry.party or None,
        "subject": entry.subject, "data": json.dumps(data, separators=(",", ":")),
    }


def _record(msgid: str, when: float, kind: str, data_text: str) -> HistoryRecord:
    data = json.loads(data_text)
    if "changes" in data:
        data["changes"] = tuple(tuple(change) for change in data["changes"])
    return HistoryRecord(msgid=msgid, time=when, kind=kind, sender=data.pop("sender", ""),
                         sender_mask=data.pop("sender_mask", ""),
                         target=data.pop("target", ""), **data)


def _entry(row: Any) -> Entry:
    parties = (row.party_a, row.party_b) if row.party_a is not None else ()
    return Entry(row.conversation, _record(row.msgid, row.time, row.kind, row.data),
                 parties, row.party or "", row.subject)


def _locate(conn: Connection, keys: tuple[str, ...], msgid: str):
    c = history.c
    return conn.execute(
        select(c.id, c.time).where(c.conversation.in_(keys), c.msgid == msgid).limit(1)
    ).first()
