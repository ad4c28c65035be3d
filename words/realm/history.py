"""History: what was said (and, for event-playback, what happened) in each channel and
private conversation, kept by the realm's store.

`History` is a realm subscriber: every event worth keeping becomes a plain
`HistoryRecord` under a conversation key (a channel's folded name, or a
private conversation's key made of its two parties). `MemoryHistory` keeps a
bounded ring per key; the SQL realm's `SQLHistory` (words.store.history)
writes behind to a table. Both answer the same async queries, which the IRC
server's CHATHISTORY and the XMPP gateway use:

    await realm.history.latest("#chan", 50)

Records are protocol-neutral (a name, a mask, a kind, a text): front ends
format them as they format live events.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from words.realm.events import (
    Event,
    Joined,
    Kicked,
    Left,
    MetaChanged,
    Quit,
    Renamed,
    Said,
    SettingsChanged,
    millis,
    millisecond_start,
)
from words.realm.model import Group, User

log = logging.getLogger("words.history")

# The kinds of record; MESSAGE_KINDS are what clients without event-playback get.
MESSAGE_KINDS = frozenset({"message", "notice"})
EVENT_KINDS = frozenset({"tagmsg", "join", "part", "quit", "kick", "nick", "topic", "mode"})
ALL_KINDS = MESSAGE_KINDS | EVENT_KINDS
# Client-only tags that are not worth keeping: a TAGMSG of only these is not stored.
_TRANSIENT_TAGS = frozenset({"+typing", "+draft/typing"})


# Not frozen: a frozen dataclass costs twice as much to make, and one is made per message.
@dataclass(slots=True)
class HistoryRecord:
    """One thing that happened in a conversation, as plain data.

    `kind` is one of ALL_KINDS. `sender` is the acting user's name at the
    time ("" and the server's name as `sender_mask` for the server);
    `target` the channel name, or the recipient's name for a private
    message. `text` is the message, the reason (part, quit, kick), the topic,
    or the new name (nick). `user` is the kicked user; `changes` are a mode
    change's (name, add, value) with values as strings. Shared by every
    reader: treat it as read-only.
    """

    msgid: str
    time: float
    kind: str
    sender: str
    sender_mask: str
    target: str
    text: str = ""
    account: str | None = None
    action: bool = False
    tags: dict[str, str] | None = None
    bot: bool = False
    user: str = ""
    realname: str = ""
    changes: tuple[tuple[str, bool, str | None], ...] = ()


@dataclass(slots=True)
class Entry:
    """A record as stored: its conversation key and who it concerns.

    `parties` are the two party ids of a private conversation (empty for a
    channel); `party` is the sender's; `subject` the folded account the
    record is about (the joiner, the leaver, the kicked), for past members.
    """

    key: str
    record: HistoryRecord
    parties: tuple[str, ...] = ()
    party: str = ""
    subject: str | None = None
    order: int = 0  # where MemoryHistory stored it (increasing); no (order, entry) pair per record


@dataclass(frozen=True, slots=True)
class Ref:
    """A message reference of CHATHISTORY: a msgid, or a time (seconds since the epoch),
    which selects by its millisecond as shown (`millis`): before it, or after it."""

    msgid: str | None = None
    time: float | None = None


@dataclass(frozen=True, slots=True)
class Query:
    """Records of `keys`, between exclusive bounds, at most `limit`.

    `newest`: when more match, keep the newest (else the oldest). A bound
    that is an unknown msgid matches nothing. `since`/`until` cut by time
    (a session's start, a past member's leaving); `kinds` None: every kind.
    """

    keys: tuple[str, ...]
    limit: int
    newest: bool = True
    after: Ref | None = None
    after_inclusive: bool = False
    before: Ref | None = None
    kinds: frozenset[str] | None = None
    since: float | None = None
    until: float | None = None


@dataclass(frozen=True, slots=True)
class Retention:
    """How much history is kept: `lines` per conversation and `age` seconds (None: forever).

    `channels` overrides both for some channels (folded name -> (lines, age)).
    """

    lines: int = 1000
    age: float | None = 30 * 86400.0
    channels: dict[str, tuple[int, float | None]] = field(default_factory=dict)

    def lines_for(self, key: str) -> int:
        return self.channels.get(key, (self.lines, self.age))[0]

    def age_for(self, key: str) -> float | None:
        return self.channels.get(key, (self.lines, self.age))[1]


class History:
    """The events worth keeping as records; subclasses store and query them.

    `private`: keep private messages. `skip_private(user)` says which users'
    private messages are never kept (services: a REGISTER to NickServ holds
    a password).
    """

    def __init__(self, casefold: Callable[[str], str], retention: Retention | None = None,
                 *, private: bool = True) -> None:
        self.casefold = casefold
        self.retention = retention or Retention()
        self.private = private
        self.skip_private: Callable[[User], bool] = lambda user: False
        # True while the event at hand must not be kept here (the SQL realm of a
        # cluster: another node's event, which that node stores in the shared table).
        self.skip_event: Callable[[], bool] = lambda: False
        self._converters = _Converters(casefold)

    def configure(self, retention: Retention, *, private: bool) -> None:
        """New retention and private setting (a REHASH); what is kept already follows."""
        self.retention = retention
        self.private = private

    # -- keys ----------------------------------------------------------------------

    def party(self, user: User) -> str:
        """Who a user is in a private conversation: its account ("@alice"), else its folded nick.

        Account names are nicks, so "@" cannot clash with a nick.
        """
        return "@" + self.casefold(user.account) if user.account else user.folded

    @staticmethod
    def private_key(party_a: str, party_b: str) -> str:
        """The key of the private conversation between two parties, whoever wrote first."""
        first, second = sorted((party_a, party_b))
        return f"{first} {second}"

    # -- the subscriber --------------------------------------------------------------

    def record(self, event: Event) -> None:
        """Subscriber: keep what `event` says, if it is worth keeping."""
        if self.skip_event():
            return
        kind = type(event)
        try:
            if kind is Said:
                entries = self._said(event)
            else:
                convert = self._converters.table.get(kind)
                if convert is None:
                    return
                entries = convert(event)
        except Exception:  # history must never stop the chat
            log.exception("could not make history of %s", kind.__name__)
            return
        if entries:
            self.store(entries)

    def _said(self, event: Said) -> list[Entry]:
        if event.to_status:
            return []  # STATUSMSG (@#chan) is not for every member: not history
        if event.kind == "tagmsg" and not set(event.tags or ()) - _TRANSIENT_TAGS:
            return []  # typing notifications
        sender, target = event.sender, event.target
        record = HistoryRecord(
            msgid=event.msgid, time=event.time, kind=event.kind, sender=sender.name,
            sender_mask=sender.mask, target=target.name, text=event.text,
            account=sender.account, action=event.action,
            tags=dict(event.tags) if event.tags else None, bot="bot" in sender.flags,
        )
        if isinstance(target, Group):
            return [Entry(target.folded, record, subject=self._converters.account(sender))]
        if not self.private or self.skip_private(sender) or self.skip_private(target):
            return []
        mine, theirs = self.party(sender), self.party(target)
        key = self.private_key(mine, theirs)
        return [Entry(key, record, tuple(sorted((mine, theirs))), mine)]

    # -- storing (subclasses) ---------------------------------------------------------

    def store(self, entries: list[Entry]) -> None:
        raise NotImplementedError

    async def select(self, query: Query) -> list[HistoryRecord]:
        """The records `query` asks for, oldest first."""
        raise NotImplementedError

    async def position(self, keys: tuple[str, ...], ref: Ref) -> tuple[float, int] | None:
        """Where `ref` is in the conversation: (time, order), or None for an unknown msgid."""
        raise NotImplementedError

    async def latest_times(
        self, channel_keys: Iterable[str], party: str | None, start: float, end: float,
        limit: int, since: float | None = None,
    ) -> list[tuple[str, float]]:
        """TARGETS: (name, time of the latest message) of the conversations with messages
        strictly between `start` and `end`: the channels `channel_keys` and the private
        conversations of `party`; the `limit` earliest such times, oldest first."""
        raise NotImplementedError

    async def membership(self, key: str, account: str) -> tuple[bool, float | None]:
        """Past members: was `account` a member of channel `key`, and when did it last leave
        (None: not since it last joined).

        Read from the JOIN, PART, QUIT and KICK records that are still kept (see
        `membership_of`); the store picks them out.
        """
        raise NotImplementedError

    async def flush(self) -> None:
        """Wait until what was stored so far can be read back (SQL: written)."""

    async def close(self) -> None:
        await self.flush()

    # -- the queries --------------------------------------------------------------------

    def _keys(self, target: str | tuple[str, ...]) -> tuple[str, ...]:
        if isinstance(target, tuple):
            return target
        return (self.casefold(target),)

    async def latest(self, target: str | tuple[str, ...], limit: int, *,
                     after: Ref | None = None, **filters: Any) -> list[HistoryRecord]:
        """The `limit` newest records (after `after`, if given), oldest first.

        `target` is a channel name or a private conversation key (or a tuple of keys).
        """
        return await self.select(Query(self._keys(target), limit, True, after=after, **filters))

    async def before(self, target: str | tuple[str, ...], ref: Ref, limit: int,
                     **filters: Any) -> list[HistoryRecord]:
        return await self.select(Query(self._keys(target), limit, True, before=ref, **filters))

    async def after(self, target: str | tuple[str, ...], ref: Ref, limit: int,
                    **filters: Any) -> list[HistoryRecord]:
        return await self.select(Query(self._keys(target), limit, False, after=ref, **filters))

    async def around(self, target: str | tuple[str, ...], ref: Ref, limit: int,
                     **filters: Any) -> list[HistoryRecord]:
        """About half before `ref`, the rest from `ref` on (the referenced message included)."""
        keys = self._keys(target)
        if ref.msgid is not None and await self.position(keys, ref) is None:
            return []
        earlier = await self.select(Query(keys, limit // 2, True, before=ref, **filters))
        later = await self.select(Query(keys, limit - len(earlier), False, after=ref,
                                        after_inclusive=True, **filters))
        return earlier + later

    async def between(self, target: str | tuple[str, ...], start: Ref, end: Ref, limit: int,
                      **filters: Any) -> list[HistoryRecord]:
        """Strictly between the two; counted from `start`, which may be the later one."""
        keys = self._keys(target)
        first, last = await self.position(keys, start), await self.position(keys, end)
        if first is None or last is None:
            return []
        if first <= last:
            return await self.select(Query(keys, limit, False, after=start, before=end, **filters))
        return await self.select(Query(keys, limit, True, after=end, before=start, **filters))


class _Converters:
    """Events other than Said -> entries; `subject` is the folded account the record is about."""

    def __init__(self, casefold: Callable[[str], str]) -> None:
        self.casefold = casefold
        self.table: dict[type[Event], Callable[[Any], list[Entry]]] = {
            Joined: self.joined, Left: self.left, Kicked: self.kicked, Quit: self.quit,
            Renamed: self.renamed, MetaChanged: self.meta_changed,
            SettingsChanged: self.settings_changed,
        }

    def account(self, user: User) -> str | None:
        return self.casefold(user.account) if user.account else None

    @staticmethod
    def user_record(event: Event, kind: str, actor: User | None, target: str,
                    **values: Any) -> HistoryRecord:
        # The event's own msgid: the one its recipients saw live (event-playback).
        if actor is None:  # the server (services, a REHASH)
            return HistoryRecord(event.msgid, event.time, kind, "", "", target, **values)
        return HistoryRecord(
            msgid=event.msgid, time=event.time, kind=kind, sender=actor.name,
            sender_mask=actor.mask, target=target, account=actor.account,
            bot="bot" in actor.flags, **values,
        )

    def joined(self, event: Joined) -> list[Entry]:
        user, group = event.user, event.group
        record = self.user_record(event, "join", user, group.name, realname=user.realname)
        return [Entry(group.folded, record, subject=self.account(user))]

    def left(self, event: Left) -> list[Entry]:
        user, group = event.user, event.group
        record = self.user_record(event, "part", user, group.name, text=event.reason)
        return [Entry(group.folded, record, subject=self.account(user))]

    def kicked(self, event: Kicked) -> list[Entry]:
        group = event.group
        record = self.user_record(event, "kick", event.by, group.name, text=event.reason,
                                  user=event.user.name)
        return [Entry(group.folded, record, subject=self.account(event.user))]

    def quit(self, event: Quit) -> list[Entry]:
        user = event.user
        record = self.user_record(event, "quit", user, "", text=event.reason)
        return [Entry(group.folded, record, subject=self.account(user)) for group in event.groups]

    def renamed(self, event: Renamed) -> list[Entry]:
        user = event.user
        record = HistoryRecord(
            msgid=event.msgid, time=event.time, kind="nick", sender=event.old_name,
            sender_mask=f"{event.old_name}!{user.username}@{user.host}", target="",
            text=event.new_name, account=user.account, bot="bot" in user.flags,
        )
        subject = self.account(user)
        return [Entry(group.folded, record, subject=subject) for group in user.groups.values()]

    def meta_changed(self, event: MetaChanged) -> list[Entry]:
        if "topic" not in event.changes:
            return []
        group = event.group
        record = self.user_record(event, "topic", event.by, group.name,
                                  text=event.changes["topic"])
        return [Entry(group.folded, record)]

    def settings_changed(self, event: SettingsChanged) -> list[Entry]:
        group = event.group
        changes = tuple(
            (name, add,
             value.name if isinstance(value, User) else None if value is None else str(value))
            for name, add, value in event.changes
        )
        record = self.user_record(event, "mode", event.by, group.name, changes=changes)
        return [Entry(group.folded, record)]


# -- selection over records in memory (MemoryHistory; the same rules as the SQL) -----------


def after_time(ref: Ref, inclusive: bool) -> float:
    """The earliest record time after (or at) a timestamp reference.

    Timestamps have milliseconds and records finer times: a record is after
    12:00:00.123 when its millisecond (as shown, `millis`) is, from 12:00:00.124 on.
    """
    assert ref.time is not None
    return millisecond_start(millis(ref.time) + (0 if inclusive else 1))


def before_time(ref: Ref) -> float:
    """Records before a timestamp reference are earlier than this: their millisecond is."""
    assert ref.time is not None
    return millisecond_start(millis(ref.time))


def select_entries(entries: list[tuple[int, Entry]], query: Query, now: float,
                   retention: Retention) -> list[HistoryRecord]:
    """Apply `query` to (order, entry) pairs sorted by order."""

    def locate(ref: Ref) -> tuple[float, int] | None:
        if ref.msgid is None:
            return None
        for order, entry in entries:
            if entry.record.msgid == ref.msgid:
                return entry.record.time, order
        return None

    lower = upper = None
    after_bound = before_bound = 0.0  # the time bounds of timestamp references
    if query.after is not None:
        lower = locate(query.after)
        if query.after.msgid is not None and lower is None:
            return []
        if lower is None:
            after_bound = after_time(query.after, query.after_inclusive)
    if query.before is not None:
        upper = locate(query.before)
        if query.before.msgid is not None and upper is None:
            return []
        if upper is None:
            before_bound = before_time(query.before)
    picked: list[HistoryRecord] = []
    for order, entry in entries:
        record = entry.record
        age = retention.age_for(entry.key)
        if age is not None and record.time < now - age:
            continue
        if query.kinds is not None and record.kind not in query.kinds:
            continue
        if query.since is not None and record.time < query.since:
            continue
        if query.until is not None and record.time > query.until:
            continue
        if query.after is not None:
            if lower is not None:
                if order < lower[1] or (order == lower[1] and not query.after_inclusive):
                    continue
            elif record.time < after_bound:
                continue
        if query.before is not None:
            if upper is not None:
                if order >= upper[1]:
                    continue
            elif record.time >= before_bound:
                continue
        picked.append(record)
    if query.limit <= 0:
        return []
    return picked[-query.limit:] if query.newest else picked[: query.limit]


class MemoryHistory(History):
    """A ring of the latest `retention.lines` records per conversation, in this process only."""

    def __init__(self, casefold: Callable[[str], str], retention: Retention | None = None,
                 *, private: bool = True) -> None:
        super().__init__(casefold, retention, private=private)
        self._rings: dict[str, deque[Entry]] = {}
        self._order = itertools.count(1)
        self._conversations: dict[str, set[str]] = {}  # party -> private keys

    def configure(self, retention: Retention, *, private: bool) -> None:
        super().configure(retention, private=private)
        # Each ring gets its new length, keeping its newest records.
        for key, ring in self._rings.items():
            self._rings[key] = deque(ring, maxlen=retention.lines_for(key))

    def store(self, entries: list[Entry]) -> None:
        for entry in entries:
            ring = self._rings.get(entry.key)
            if ring is None:
                ring = self._rings[entry.key] = deque(maxlen=self.retention.lines_for(entry.key))
            entry.order = next(self._order)
            ring.append(entry)
            age = self.retention.age_for(entry.key)
            if age is not None:
                oldest = entry.record.time - age
                while ring and ring[0].record.time < oldest:
                    ring.popleft()
            for party in entry.parties:
                self._conversations.setdefault(party, set()).add(entry.key)

    def _entries(self, keys: tuple[str, ...]) -> list[tuple[int, Entry]]:
        rings = [self._rings[key] for key in keys if key in self._rings]
        if len(rings) == 1:
            return [(entry.order, entry) for entry in rings[0]]
        return sorted((entry.order, entry) for ring in rings for entry in ring)

    async def select(self, query: Query) -> list[HistoryRecord]:
        return select_entries(self._entries(query.keys), query, time.time(), self.retention)

    async def position(self, keys: tuple[str, ...], ref: Ref) -> tuple[float, int] | None:
        if ref.msgid is None:
            return (ref.time or 0.0, 0)
        for order, entry in self._entries(keys):
            if entry.record.msgid == ref.msgid:
                return entry.record.time, order
        return None

    async def latest_times(
        self, channel_keys: Iterable[str], party: str | None, start: float, end: float,
        limit: int, since: float | None = None,
    ) -> list[tuple[str, float]]:
        found: list[tuple[float, str]] = []
        private = sorted(self._conversations.get(party, ())) if party is not None else []
        now = time.time()
        for key in [*channel_keys, *private]:
            age = self.retention.age_for(key)
            for entry in reversed(self._rings.get(key, ())):
                record = entry.record
                if record.kind not in MESSAGE_KINDS or not start < record.time < end:
                    continue
                if (age is not None and record.time < now - age) or (
                    entry.parties and since is not None and record.time < since
                ):
                    continue
                found.append((record.time, target_name(entry, party)))
                break
        found.sort()
        return [(name, when) for when, name in found[:limit]]

    async def membership(self, key: str, account: str) -> tuple[bool, float | None]:
        age = self.retention.age_for(key)
        oldest = time.time() - age if age is not None else None  # reads never see older
        return membership_of(
            (entry.record.kind, entry.record.time) for entry in self._rings.get(key, ())
            if entry.subject == account and entry.record.kind in MEMBERSHIP_KINDS
            and (oldest is None or entry.record.time >= oldest)
        )


# The records that tell who was a member of a channel, and until when.
MEMBERSHIP_KINDS = ("join", "part", "quit", "kick")


def membership_of(records: Iterable[tuple[str, float]]) -> tuple[bool, float | None]:
    """(was a member, when it last left) from an account's (kind, time) membership
    records in a channel, oldest first.

    A PART, QUIT or KICK proves a membership too, even when its JOIN was pruned: a
    long-time member that leaves a busy channel is a past member. Pruning drops the
    oldest records first, so a leaving is dropped only after every record it makes
    readable: when nothing of an account's membership is left, nothing it could
    read is either.
    """
    member, left = False, None
    for kind, when in records:
        member = True
        left = None if kind == "join" else when
    return member, left


def target_name(entry: Entry, party: str | None) -> str:
    """The name TARGETS shows: the channel, or the other party of a private conversation."""
    record = entry.record
    if not entry.parties:
        return record.target
    return record.target if entry.party == party else record.sender
