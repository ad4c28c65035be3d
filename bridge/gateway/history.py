"""Room history on join (XEP-0045 §7.2.15): the realm's history, as the client asks.

A joining client may limit what it gets with `<history maxchars maxstanzas
seconds since>`; with several, it gets the least that satisfies all. The
gateway's own limit (`xmpp.history`) caps them. The records are the ones
IRC's CHATHISTORY LATEST serves (the same query, messages and notices), so
an XMPP user and an IRC user see the same bodies in the same order, and the
stanza-id of each is its IRC msgid. `maxchars` counts the characters of the
stanzas as the gateway writes them; 0 means no history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bridge.gateway import stanzas as S
from bridge.gateway.text import irc_to_xmpp, is_ctcp
from words.realm.history import MESSAGE_KINDS

if TYPE_CHECKING:
    from bridge.gateway.gateway import Gateway
    from bridge.gateway.session import Room


@dataclass(frozen=True, slots=True)
class Wanted:
    """What one client asked for (within the gateway's limit)."""

    stanzas: int
    since: float | None = None  # seconds since the epoch; None: no time limit
    chars: int | None = None  # None: no size limit


def _number(element: Any, name: str) -> int | None:
    value = element.get(name, "")
    return int(value) if value.isdecimal() else None


def _datetime(value: str) -> float | None:
    """An XEP-0082 date-time as seconds since the epoch; None when it is not one."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:  # XEP-0082 requires a zone; read none as UTC
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def wanted(history: Any, limit: int, now: float | None = None) -> Wanted:
    """The client's `<history/>` (or None) within `limit`; values that are not numbers
    or dates are ignored, as if not given."""
    if history is None:
        return Wanted(limit)
    now = time.time() if now is None else now
    stanzas = _number(history, "maxstanzas")
    chars = _number(history, "maxchars")
    seconds = _number(history, "seconds")
    since = _datetime(history.get("since", "")) if history.get("since") else None
    if seconds is not None:
        since = max(since or 0.0, now - seconds)
    if chars == 0:
        stanzas = 0
    return Wanted(limit if stanzas is None else min(limit, stanzas), since, chars)


async def send_history(gw: Gateway, room: Room, resource: str, wish: Wanted) -> None:
    """The room's recent messages to one client, each with <delay> and its stanza-id."""
    history = getattr(gw.realm, "history", None)
    if history is None or wish.stanzas <= 0:
        return  # no history kept, or none wanted: the join goes on without it
    records = await history.latest(room.group.name, wish.stanzas, kinds=MESSAGE_KINDS,
                                   since=wish.since)
    xmpp, room_jid = gw.xmpp, room.resources.get(resource)
    if xmpp is None or room_jid is None:
        return
    stanzas = []
    for record in records:
        if not record.action and is_ctcp(record.text):
            continue  # CTCP requests are for IRC clients, live or not
        text = irc_to_xmpp(record.text, gw.xmpp_config.formatting)
        body = f"/me {text}" if record.action else text
        stanza = S.message(xmpp, room.occupant(resource, record.sender or gw.config.server_name),
                           resource, "groupchat", body, record.msgid)
        stanza.xml.append(S.delay(room_jid, record.time))
        stanza.xml.append(S.stanza_id(record.msgid, room_jid))
        stanzas.append(stanza)
    if wish.chars is not None:
        # The newest that fit, counted from the newest back.
        total, kept = 0, 0
        for stanza in reversed(stanzas):
            total += len(str(stanza))
            if total > wish.chars:
                break
            kept += 1
        stanzas = stanzas[len(stanzas) - kept:]
    for stanza in stanzas:
        stanza.send()
