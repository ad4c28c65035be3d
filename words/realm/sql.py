"""The SQL words realm: the in-memory realm, plus what must last stored in SQL.

Live state (who is online, who is in which channel) stays in memory as in
InMemoryWordsRealm. Accounts live in the database; registered channels are
loaded at `open()` and every event that changes one is written behind, in
order, on the database thread. An account is acknowledged only after its
commit, so a crash never loses an account the user was told exists.

The write-behind is one queue served by one task, in order. While the
database is away each write is retried until it is back (words.store.database
`retrying`), so changes made meanwhile wait in memory, are never dropped, and
land in the order they were made; `flush(timeout)` tells whether they did.
`write_behind` queues a change of someone else's (the IRC server's K-lines and
D-lines) in the same queue and tells when it is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from words.realm.events import (
    AccessChanged,
    AccountChanged,
    Event,
    GroupCreated,
    GroupDropped,
    GroupRegistered,
    MetaChanged,
    SettingsChanged,
    SignedOn,
)
from words.realm.history import History, Retention
from words.realm.model import Group, GroupSettings, MaskEntry
from words.realm.service import FLAG_CHANGES, LIST_CHANGES, WordsRealm
from words.store import (
    AccountStore,
    ChannelRecord,
    ChannelStore,
    Database,
    ServerBanStore,
    check_schema,
)
from words.store.database import StoreError, retrying

log = logging.getLogger("words.store")

_MASK_KINDS = {"bans": "ban", "exceptions": "exception", "invex": "invex"}
# Seconds close() waits for the write-behind when the database is away.
_CLOSE_WAIT = 5.0


class SQLWordsRealm(WordsRealm):
    def __init__(self, name: str, url: str = "sqlite:///words.db", **options: Any) -> None:
        super().__init__(name, **options)
        self.db = Database(url)
        self.accounts = AccountStore(self.db, self.casefold)
        self.channel_store = ChannelStore(self.db, self.casefold)
        # K-lines and D-lines: the IRC server loads them at start and saves each change
        # through the write-behind, so one set while the database is away is not lost.
        self.server_ban_store = ServerBanStore(self.db, self.casefold, write_behind=self.write_behind)
        # The write-behind: changes in order, served by one task (_drain); each with the
        # future write_behind() handed out, if any.
        self._queue: deque[tuple[Coroutine[Any, Any, Any], asyncio.Future | None]] = deque()
        self._queued = 0  # changes ever queued
        self._stored = 0  # of those, how many are done (stored, or refused and logged)
        self._progress = asyncio.Condition()
        self._drainer: asyncio.Task | None = None
        self.subscribe(self._persist)

    async def open(self) -> None:
        """Check (and upgrade) the schema, then load the registered channels."""
        await asyncio.to_thread(check_schema, self.db)
        for record in await self.channel_store.all():
            self.apply(GroupCreated(group=_group_from_record(record, self.casefold)))

    async def close(self) -> None:
        """Wait for the writes under way, then close the database."""
        if self.history is not None:
            await self.history.close()  # what still waits for the database is logged
        if not await self.flush(timeout=_CLOSE_WAIT):
            log.error("closing with %d changes not stored: the database is unavailable", len(self._queue))
        drainer = self._drainer
        if drainer is not None:
            drainer.cancel()
            await asyncio.gather(drainer, return_exceptions=True)
        for coro, done in self._queue:
            coro.close()  # never started (the one under way ended with the cancel)
            if done is not None:
                done.cancel()
        self._queue.clear()
        await asyncio.to_thread(self.db.close)

    @property
    def pending_writes(self) -> int:
        """Changes queued and not yet stored (they wait while the database is away)."""
        return len(self._queue)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every change so far is stored; False if `timeout` seconds were not enough."""
        target = self._queued

        async def stored() -> None:
            async with self._progress:
                await self._progress.wait_for(lambda: self._stored >= target)

        try:
            await asyncio.wait_for(stored(), timeout)
        except TimeoutError:
            return False
        if self.history is not None:
            await self.history.flush()
        return True

    def _make_history(self, retention: Retention | None, private: bool) -> History:
        """History in the database (the `history` table), written behind as the rest."""
        from words.store.history import SQLHistory

        history = SQLHistory(self.db, self.casefold, retention, private=private)
        # In a cluster the table is shared: the node where an event happened stores it.
        history.skip_event = lambda: getattr(self, "applying_remote", False)
        return history

    # -- write-behind of registered channels ---------------------------------------------

    def _persist(self, event: Event) -> None:
        if self.applying_remote:
            return  # another cluster node's change: that node stores it
        kind = type(event)
        if kind is SignedOn or kind is AccountChanged:
            account = event.user.account
            if account:
                self._write(self.accounts.touch(account))  # last seen
            return
        group: Group | None = getattr(event, "group", None)
        if group is None or (group.founder is None and kind is not GroupDropped):
            return
        store = self.channel_store
        if kind is GroupRegistered:
            self._write(store.register(_record_from_group(group)))
        elif kind is GroupDropped:
            self._write(store.drop(group.name))
        elif kind is MetaChanged and "topic" in event.changes:
            meta = group.meta
            self._write(store.save_topic(group.name, meta["topic"], meta.get("topic_author", ""),
                                         meta.get("topic_time", 0.0)))
        elif kind is SettingsChanged:
            names = {name for name, _, _ in event.changes}
            if names & {*FLAG_CHANGES, "key", "limit"}:
                self._write(store.save_settings(group.name, _settings_dict(group.settings)))
            for name, add, value in event.changes:
                if name in LIST_CHANGES:
                    entries = getattr(group.settings, LIST_CHANGES[name])
                    entry = entries.get(self.casefold(value))
                    self._write(store.save_mask(
                        group.name, name, value, entry.set_by if entry else "",
                        entry.set_at if entry else event.time, add,
                    ))
        elif kind is AccessChanged:
            self._write(store.save_access(group.name, event.account, event.level))

    def write_behind(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Future:
        """Queue `coro` (a store transaction) behind the changes queued before it.

        Retried while the database is away, as every queued change. The future
        gets its result once stored, or the StoreError of a database that refused
        it (logged either way), or is cancelled if the realm closes first.
        """
        done = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)  # nobody has to wait for it
        self._write(coro, done)
        return done

    def _write(self, coro: Coroutine[Any, Any, Any], done: asyncio.Future | None = None) -> None:
        self._queue.append((coro, done))
        self._queued += 1
        if self._drainer is None:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Store the queued changes one by one, in order, each retried until the database takes it."""
        try:
            with retrying():
                while self._queue:
                    coro, done = self._queue[0]
                    try:
                        result = await coro
                    except StoreError as exc:
                        # Refused by the database itself (not its absence): retrying
                        # cannot help. Logged, so it is never lost silently.
                        log.error("could not store a change, the database refused it: %s", exc)
                        if done is not None and not done.done():
                            done.set_exception(exc)
                    else:
                        if done is not None and not done.done():
                            done.set_result(result)
                    self._queue.popleft()
                    self._stored += 1
                    async with self._progress:
                        self._progress.notify_all()
        finally:
            self._drainer = None


def _retrieved(future: asyncio.Future) -> None:
    """Mark a write_behind() future's error as seen (the write-behind logged it)."""
    if not future.cancelled():
        future.exception()


def _settings_dict(settings: GroupSettings) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(settings, name) for name in FLAG_CHANGES}
    values["key"] = settings.key
    values["limit"] = settings.limit
    return values


def _record_from_group(group: Group) -> ChannelRecord:
    meta = group.meta
    masks = [
        (_MASK_KINDS[field], e.mask, e.set_by, e.set_at)
        for field in _MASK_KINDS
        for e in getattr(group.settings, field).values()
    ]
    return ChannelRecord(
        group.name, group.founder or "", group.created, meta.get("topic", ""),
        meta.get("topic_author", ""), meta.get("topic_time", 0.0),
        _settings_dict(group.settings), masks, dict(group.access),
    )


def _group_from_record(record: ChannelRecord, casefold) -> Group:
    group = Group(name=record.name, folded=casefold(record.name), created=record.created,
                  founder=record.founder, access=dict(record.access))
    if record.topic:
        group.meta.update(topic=record.topic, topic_author=record.topic_author,
                          topic_time=record.topic_time)
    settings = group.settings
    for name, value in record.settings.items():
        if name in FLAG_CHANGES or name in ("key", "limit"):
            setattr(settings, name, value)
    fields = {kind: field for field, kind in _MASK_KINDS.items()}
    for kind, mask, set_by, set_at in record.masks:
        getattr(settings, fields[kind])[casefold(mask)] = MaskEntry(mask, set_by, set_at)
    return group
