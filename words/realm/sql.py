"""The SQL words realm: the in-memory realm, plus what must last stored in SQL.

Live state (who is online, who is in which channel) stays in memory as in
InMemoryWordsRealm. Accounts live in the database; registered channels are
loaded at `open()` and every event that changes one is written behind, in
order, on the database thread. An account is acknowledged only after its
commit, so a crash never loses an account the user was told exists.
"""

from __future__ import annotations

import asyncio
import logging
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

log = logging.getLogger("words.store")

_MASK_KINDS = {"bans": "ban", "exceptions": "exception", "invex": "invex"}


class SQLWordsRealm(WordsRealm):
    def __init__(self, name: str, url: str = "sqlite:///words.db", **options: Any) -> None:
        super().__init__(name, **options)
        self.db = Database(url)
        self.accounts = AccountStore(self.db, self.casefold)
        self.channel_store = ChannelStore(self.db, self.casefold)
        # K-lines and D-lines: the IRC server loads them at start and saves each change.
        self.server_ban_store = ServerBanStore(self.db, self.casefold)
        self._writes: set[asyncio.Future] = set()
        self.subscribe(self._persist)

    async def open(self) -> None:
        """Check (and upgrade) the schema, then load the registered channels."""
        await asyncio.to_thread(check_schema, self.db)
        for record in await self.channel_store.all():
            self.apply(GroupCreated(group=_group_from_record(record, self.casefold)))

    async def close(self) -> None:
        """Wait for the writes under way, then close the database."""
        if self.history is not None:
            await self.history.flush()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        await asyncio.to_thread(self.db.close)

    async def flush(self) -> None:
        """Wait until every change so far is stored (tests, shutdown)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)
        if self.history is not None:
            await self.history.flush()

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

    def _write(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Future) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The database is down or refused: the change lives on in memory;
            # it is logged (never silently lost) and the next change retries.
            log.error("could not store a channel change: %s", task.exception())


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
