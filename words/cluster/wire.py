"""Realm events as names on the wire: what one node publishes for the others.

An event holds the realm's own User and Group objects; on the wire they are
names (each node has its own objects for the same users). Each message is a
small JSON object: "t" its type, "n" the node it comes from, "ts" the event's
time and "id" its msgid (so server-time and msgid are the same on every node, live
and in history), then the fields.

An event type without an encoder here is not published (a node keeps it to
itself): a new realm event that other nodes must see needs an entry here and
one in remote.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from words.realm.events import (
    AccessChanged,
    AccountChanged,
    AwayChanged,
    Event,
    GroupCreated,
    GroupDropped,
    GroupRegistered,
    HostChanged,
    Invited,
    Joined,
    Kicked,
    Left,
    MetaChanged,
    Quit,
    RealnameChanged,
    Renamed,
    Said,
    ServerBanChanged,
    SettingsChanged,
    SignedOn,
    UserFlagsChanged,
    Wallops,
)
from words.realm.model import Group, User

# Settings changes whose value is a member (a User), sent as its name.
MEMBER_CHANGES = ("op", "voice")


def _name(user: User | None) -> str | None:
    return user.name if user is not None else None


def user_record(user: User) -> dict[str, Any]:
    """What another node needs to show `user` (WHO, WHOIS, masks for bans)."""
    return {
        "u": user.name, "un": user.username, "h": user.host, "rh": user.real_host,
        "r": user.realname, "a": user.account, "so": user.signed_on,
        "f": sorted(user.flags), "aw": user.away,
    }


def group_record(group: Group) -> dict[str, Any]:
    """A channel's live state: topic, modes and lists (the snapshot's `chans` hash)."""
    settings = group.settings
    lists = {
        kind: [[e.mask, e.set_by, e.set_at] for e in getattr(settings, kind).values()]
        for kind in ("bans", "exceptions", "invex")
    }
    return {
        "g": group.name, "c": group.created, "tr": group.transient, "m": group.meta,
        "s": {
            "invite_only": settings.invite_only, "key": settings.key, "limit": settings.limit,
            "moderated": settings.moderated, "no_external": settings.no_external,
            "topic_locked": settings.topic_locked, "secret": settings.secret,
            "private": settings.private, "registered_only": settings.registered_only,
        },
        "l": lists, "fo": group.founder, "ac": group.access,
    }


def _signed_on(e: SignedOn) -> dict[str, Any]:
    return {"t": "on", **user_record(e.user)}


def _said(e: Said) -> dict[str, Any]:
    data: dict[str, Any] = {"t": "msg", "s": e.sender.name, "x": e.text}
    if isinstance(e.target, Group):
        data["g"] = e.target.name
    else:
        data["u"] = e.target.name
    if e.kind != "message":
        data["k"] = e.kind
    if e.action:
        data["a"] = 1
    if e.to_status:
        data["st"] = e.to_status
    if e.tags:
        data["tg"] = e.tags
    return data


def _settings(e: SettingsChanged) -> dict[str, Any]:
    changes = [
        [name, add, value.name if name in MEMBER_CHANGES else value]
        for name, add, value in e.changes
    ]
    return {"t": "mode", "g": e.group.name, "c": changes, "b": _name(e.by)}


def _quit(e: Quit) -> dict[str, Any]:
    data = {"t": "quit", "u": e.user.name, "r": e.reason}
    mind = e.mind  # the user's, until the quit was applied
    if getattr(mind, "remote", False):
        data["h"] = mind.node  # a KILL of another node's user (else "h" is the sender)
    return data


def _server_ban(e: ServerBanChanged) -> dict[str, Any]:
    ban = e.ban
    data: dict[str, Any] = {"t": "sban", "k": e.kind, "m": e.mask}
    if ban is not None:  # else lifted
        data["b"] = [ban.reason, ban.set_by, ban.set_at, ban.expires]
    return data


def _joined(e: Joined) -> dict[str, Any]:
    return {"t": "join", "g": e.group.name, "u": e.user.name,
            "s": e.group.members.get(e.user, ""), "c": e.group.created}


ENCODERS: dict[type[Event], Callable[[Any], dict[str, Any]]] = {
    SignedOn: _signed_on,
    Quit: _quit,
    Renamed: lambda e: {"t": "nick", "u": e.old_name, "v": e.new_name},
    GroupCreated: lambda e: {"t": "chan", "g": e.group.name, "c": e.group.created,
                             "tr": e.group.transient},
    Joined: _joined,
    Left: lambda e: {"t": "part", "g": e.group.name, "u": e.user.name, "r": e.reason},
    Kicked: lambda e: {"t": "kick", "g": e.group.name, "u": e.user.name, "b": _name(e.by),
                       "r": e.reason},
    Said: _said,
    MetaChanged: lambda e: {"t": "meta", "g": e.group.name, "c": e.changes, "b": _name(e.by)},
    SettingsChanged: _settings,
    Invited: lambda e: {"t": "invite", "g": e.group.name, "u": e.user.name, "b": e.by.name},
    AwayChanged: lambda e: {"t": "away", "u": e.user.name, "m": e.message},
    UserFlagsChanged: lambda e: {"t": "umode", "u": e.user.name,
                                 "c": [list(c) for c in e.changes], "b": _name(e.by)},
    Wallops: lambda e: {"t": "wallops", "s": _name(e.sender), "x": e.text},
    GroupRegistered: lambda e: {"t": "reg", "g": e.group.name, "f": e.founder},
    GroupDropped: lambda e: {"t": "drop", "g": e.group.name},
    AccessChanged: lambda e: {"t": "access", "g": e.group.name, "a": e.account, "l": e.level},
    AccountChanged: lambda e: {"t": "account", "u": e.user.name, "a": e.account, "o": e.old},
    RealnameChanged: lambda e: {"t": "setname", "u": e.user.name, "r": e.realname},
    HostChanged: lambda e: {"t": "host", "u": e.user.name, "un": e.username, "h": e.host},
    ServerBanChanged: _server_ban,
}


def encode(event: Event, node: str) -> bytes | None:
    """The event as a JSON message from `node`, or None if it is not published."""
    encoder = ENCODERS.get(type(event))
    if encoder is None:
        return None
    data = encoder(event)
    data["n"] = node
    data["ts"] = event.time
    data["id"] = event.msgid
    return dumps(data)


def stamp(data: dict[str, Any]) -> dict[str, Any]:
    """The time and msgid of an event from the wire, as keyword arguments for its class.

    A message without "id" (from a node older than msgids on every event) leaves the
    event the msgid it makes for itself.
    """
    if "id" in data:
        return {"time": data["ts"], "msgid": data["id"]}
    return {"time": data["ts"]}


# One encoder for every message (json.dumps with options would build one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def dumps(data: dict[str, Any]) -> bytes:
    return _ENCODER.encode(data).encode()
