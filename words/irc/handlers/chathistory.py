"""CHATHISTORY (IRCv3 draft/chathistory and draft/event-playback), and history replay on JOIN.

    CHATHISTORY LATEST  <target> <* | msgref> <limit>
    CHATHISTORY BEFORE  <target> <msgref> <limit>
    CHATHISTORY AFTER   <target> <msgref> <limit>
    CHATHISTORY AROUND  <target> <msgref> <limit>
    CHATHISTORY BETWEEN <target> <msgref> <msgref> <limit>
    CHATHISTORY TARGETS <timestamp=...> <timestamp=...> <limit>

A msgref is `msgid=ID` or `timestamp=YYYY-MM-DDThh:mm:ss.sssZ`. The answer is
a `chathistory` batch (a `draft/chathistory-targets` batch for TARGETS) for
batch clients, the bare lines otherwise; errors are standard replies
(`FAIL CHATHISTORY INVALID_PARAMS|INVALID_TARGET|MESSAGE_ERROR ...`). A
channel's history is for its members (and, with `history.past_members`, for
accounts that left it, up to when they left); a private conversation's for
its two parties, where a user without an account sees only what was said
since it connected (a nick is not an identity across sessions).

Reading may wait for the database, so the answer comes from a task; the
client's later lines wait for it (run_holding_input) and a labelled command
gets its label on the answer (the task's writes are that answer).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.codec import format_line
from words.irc.commands import command
from words.irc.handlers.ircv3 import fail
from words.irc.modes import render_changes
from words.irc.tags import server_time
from words.realm.history import ALL_KINDS, MESSAGE_KINDS, HistoryRecord, Ref
from words.store.database import StoreError

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection
    from words.realm import Group

SUBCOMMANDS = ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")
_UNAVAILABLE = "Messages could not be retrieved"


class _Invalid(Exception):
    """A parameter that cannot be parsed: INVALID_PARAMS with it as context."""

    def __init__(self, param: str, text: str) -> None:
        super().__init__(text)
        self.param = param
        self.text = text


def parse_ref(text: str, *, star: bool = False, timestamp_only: bool = False) -> Ref | None:
    """`msgid=...` or `timestamp=...` -> Ref; `*` -> None where allowed; else _Invalid."""
    if text == "*" and star:
        return None
    kind, sep, value = text.partition("=")
    if sep and kind == "timestamp" and _TIMESTAMP.fullmatch(value):
        return Ref(time=datetime.fromisoformat(value).timestamp())
    if sep and kind == "msgid" and value and not timestamp_only:
        return Ref(msgid=value)
    raise _Invalid(text, "Invalid timestamp" if kind == "timestamp" else "Invalid message reference")


def _fail(conn: IRCConnection, code: str, *context_and_text: str) -> None:
    fail(conn, "CHATHISTORY", code, *context_and_text)


@command("CHATHISTORY")
def handle_chathistory(conn: IRCConnection, msg: Message) -> None:
    history = conn.server.realm.history
    if history is None:
        conn.numeric(N.ERR_UNKNOWNCOMMAND, msg.command, "Unknown command")
        return
    params = msg.params
    sub = params[0].upper() if params else ""
    if sub not in SUBCOMMANDS:
        _fail(conn, "INVALID_PARAMS", sub or "*", "Unknown subcommand")
        return
    needed = 5 if sub == "BETWEEN" else 4
    if len(params) < needed:
        _fail(conn, "INVALID_PARAMS", sub, "Insufficient parameters")
        return
    if len(params) > needed:
        _fail(conn, "INVALID_PARAMS", sub, "Too many parameters")
        return
    limit_text = params[-1]
    if not limit_text.isdecimal():
        _fail(conn, "INVALID_PARAMS", sub, limit_text, "Invalid limit")
        return
    most = conn.server.config.history.chathistory_limit
    limit = min(int(limit_text), most) or most  # 0 or too many: the server's most
    try:
        if sub == "TARGETS":
            first = parse_ref(params[1], timestamp_only=True)
            second = parse_ref(params[2], timestamp_only=True)
            refs: tuple[Ref | None, ...] = (first, second)
        else:
            refs = tuple(parse_ref(p, star=sub == "LATEST") for p in params[2:-1])
    except _Invalid as invalid:
        _fail(conn, "INVALID_PARAMS", sub, invalid.param, invalid.text)
        return
    if sub == "TARGETS":
        conn.run_holding_input(_targets(conn, refs, limit))
    else:
        conn.run_holding_input(_messages(conn, sub, params[1], refs, limit))


@dataclass(frozen=True, slots=True)
class _Scope:
    """What a client may read of a target: conversation keys, the name to show, time cuts."""

    keys: tuple[str, ...]
    name: str
    since: float | None = None
    until: float | None = None


async def _scope(conn: IRCConnection, target: str) -> _Scope | None:
    """The conversation `target` names, if this client may read it; else None."""
    realm = conn.server.realm
    history = realm.history
    user = conn.user
    assert history is not None and user is not None
    if not target or any(c in target for c in " ,*?!@"):
        return None
    if target.startswith("#"):
        group = realm.find_group(target)
        key = realm.casefold(target)
        if group is not None and user in group.members:
            return _Scope((key,), group.name)
        if not conn.server.config.history.past_members or not user.account:
            return None
        if group is not None and realm.is_banned(user, group):
            return None
        joined, left = await history.membership(key, realm.casefold(user.account))
        if not joined:
            return None
        return _Scope((key,), group.name if group is not None else target, until=left)
    if not history.private:
        return None
    mine = history.party(user)
    other = realm.find_user(target)
    if other is not None:
        parties = [history.party(other)]
    else:  # offline: the account of that name, or a user without one who had it
        folded = realm.casefold(target)
        parties = ["@" + folded, folded]
    keys = tuple(history.private_key(mine, party) for party in parties)
    since = None if user.account else user.signed_on
    return _Scope(keys, other.name if other is not None else target, since=since)


def kinds_for(conn: IRCConnection) -> frozenset[str]:
    """PRIVMSG and NOTICE; with draft/event-playback also JOIN, PART, ... (TAGMSG for message-tags)."""
    if "draft/event-playback" not in conn.caps:
        return MESSAGE_KINDS
    if "message-tags" in conn.caps:
        return ALL_KINDS
    return ALL_KINDS - {"tagmsg"}


async def _messages(conn: IRCConnection, sub: str, target: str, refs: tuple[Ref | None, ...],
                    limit: int) -> None:
    history = conn.server.realm.history
    if history is None or conn.user is None:
        return  # gone before its turn came
    try:
        scope = await _scope(conn, target)
        if scope is None:
            _fail(conn, "INVALID_TARGET", sub, target, _UNAVAILABLE)
            return
        filters = {"kinds": kinds_for(conn), "since": scope.since, "until": scope.until}
        keys = scope.keys
        if sub == "LATEST":
            records = await history.latest(keys, limit, after=refs[0], **filters)
        elif sub == "BEFORE":
            records = await history.before(keys, refs[0], limit, **filters)
        elif sub == "AFTER":
            records = await history.after(keys, refs[0], limit, **filters)
        elif sub == "AROUND":
            records = await history.around(keys, refs[0], limit, **filters)
        else:
            records = await history.between(keys, refs[0], refs[1], limit, **filters)
    except StoreError:
        _fail(conn, "MESSAGE_ERROR", sub, target, _UNAVAILABLE)
        return
    conn.send_lines(history_batch(conn, scope.name, records))


async def _targets(conn: IRCConnection, refs: tuple[Ref | None, ...], limit: int) -> None:
    realm = conn.server.realm
    history = realm.history
    user = conn.user
    if history is None or user is None:
        return  # gone before its turn came
    times = sorted(ref.time for ref in refs if ref is not None and ref.time is not None)
    party = history.party(user) if history.private else None
    since = None if user.account else user.signed_on
    try:
        found = await history.latest_times(list(user.groups), party, times[0], times[1], limit,
                                           since=since)
    except StoreError:
        _fail(conn, "MESSAGE_ERROR", "TARGETS", "*", _UNAVAILABLE)
        return
    server = conn.server.name
    lines = [
        format_line("CHATHISTORY", "TARGETS", name, server_time(when), source=server)
        for name, when in found
    ]
    conn.send_lines(_batched(conn, "draft/chathistory-targets", [], lines))


def _batched(conn: IRCConnection, kind: str, params: list[str], lines: list[str],
             ref: str | None = None) -> bytes:
    """`lines` in a batch of `kind` for batch clients (their lines already tagged with `ref`)."""
    server = conn.server.name
    if ref is not None:
        lines = [format_line("BATCH", f"+{ref}", kind, *params, source=server), *lines,
                 format_line("BATCH", f"-{ref}", source=server)]
    elif "batch" in conn.caps:
        ref = conn.new_batch_ref("H")
        lines = [format_line("BATCH", f"+{ref}", kind, *params, source=server),
                 *(f"@batch={ref} {line}" for line in lines),
                 format_line("BATCH", f"-{ref}", source=server)]
    return b"".join(line.encode("utf-8", "replace") + b"\r\n" for line in lines)


def history_batch(conn: IRCConnection, name: str, records: list[HistoryRecord], *,
                  stamp_text: bool = False) -> bytes:
    """`records` as this client sees them, in a `chathistory` batch when it has batch.

    `stamp_text` (replay on join to a client without server-time): the time
    goes at the start of each message's text instead.
    """
    ref = conn.new_batch_ref("H") if "batch" in conn.caps else None
    lines = [line for record in records for line in record_lines(conn, record, ref, stamp_text)]
    return _batched(conn, "chathistory", [name], lines, ref)


def record_lines(conn: IRCConnection, record: HistoryRecord, batch: str | None = None,
                 stamp_text: bool = False) -> list[str]:
    """The lines a record was (or would have been) to this client, with the tags it enabled."""
    caps = conn.caps
    tags: dict[str, str] = {}
    if batch is not None:
        tags["batch"] = batch
    if "server-time" in caps:
        tags["time"] = server_time(record.time)
    if "message-tags" in caps:
        if record.tags:
            tags.update(record.tags)
        tags["msgid"] = record.msgid
        if record.bot:
            tags["bot"] = ""
    if "account-tag" in caps and record.account:
        tags["account"] = record.account
    source = record.sender_mask or conn.server.name
    kind = record.kind
    if kind in ("message", "notice"):
        text = record.text
        if record.action:
            text = f"\x01ACTION {text}\x01" if text else "\x01ACTION\x01"
        if stamp_text:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record.time))
            text = f"[{stamp}] {text}"
        lines = [("PRIVMSG" if kind == "message" else "NOTICE", record.target, text)]
    elif kind == "tagmsg":
        lines = [("TAGMSG", record.target)]
    elif kind == "join":
        if "extended-join" in caps:
            lines = [("JOIN", record.target, record.account or "*", record.realname or "*")]
        else:
            lines = [("JOIN", record.target)]
    elif kind == "part":
        lines = [("PART", record.target, record.text)] if record.text else [("PART", record.target)]
    elif kind == "quit":
        lines = [("QUIT", record.text)]
    elif kind == "kick":
        lines = [("KICK", record.target, record.user, record.text or record.user)]
    elif kind == "nick":
        lines = [("NICK", record.text)]
    elif kind == "topic":
        lines = [("TOPIC", record.target, record.text)]
    elif kind == "mode":
        max_params = conn.server.config.limits.max_modes
        lines = [("MODE", record.target, *params)
                 for params in render_changes(list(record.changes), max_params)]
    else:
        return []
    if not lines:
        return []
    out = [format_line(*lines[0], source=source, tags=tags or None)]
    if len(lines) > 1:  # as relayed: the msgid names the first line (a MODE split in several)
        tags.pop("msgid", None)
        out.extend(format_line(*line, source=source, tags=tags or None) for line in lines[1:])
    return out


# -- replay on JOIN ------------------------------------------------------------------------------


def replay_on_join(conn: IRCConnection, group: Group) -> None:
    """After a JOIN's burst: the last `history.replay_on_join` messages, for clients
    without draft/chathistory (those ask for what they want)."""
    history = conn.server.realm.history
    lines = conn.server.config.history.replay_on_join
    if history is None or not lines or "draft/chathistory" in conn.caps:
        return
    conn.run_holding_input(_replay(conn, group.folded, group.name, lines, time.time()))


async def _replay(conn: IRCConnection, key: str, name: str, lines: int, until: float) -> None:
    history = conn.server.realm.history
    if history is None or conn.user is None:
        return
    try:
        records = await history.latest(key, lines, kinds=MESSAGE_KINDS, until=until)
    except StoreError:
        return  # logged by the store; the JOIN itself went through
    if records:  # send_lines: part of a labelled JOIN's answer
        conn.send_lines(history_batch(conn, name, records,
                                      stamp_text="server-time" not in conn.caps))
