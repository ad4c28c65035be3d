"""IRCv3 MONITOR: who watches which nick, and the 730/731 notifications.

Each connection has a list of nicks (folded with the realm's casemapping) it
wants to hear about; the server keeps the reverse index, so a sign-on, a quit
or a nick change costs one dict lookup, never a scan of every client. The
notifications follow the realm's events (SignedOn, Quit, Renamed), handed
here by the server's subscriber.

extended-monitor: a client with it also gets AWAY, ACCOUNT, CHGHOST and SETNAME
of the nicks it monitors (each when it enabled the matching capability), even
when it shares no channel with them; those that share one already had them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.realm.events import (
    AccountChanged,
    AwayChanged,
    Event,
    HostChanged,
    Quit,
    RealnameChanged,
    Renamed,
    SignedOn,
)

if TYPE_CHECKING:
    from words.irc.connection import IRCConnection
    from words.realm import User

# extended-monitor: event -> (the capability a client also needs, its mind method).
EXTENDED = {
    AwayChanged: ("away-notify", "user_away_changed"),
    AccountChanged: ("account-notify", "account_changed"),
    HostChanged: ("chghost", "user_host_changed"),
    RealnameChanged: ("setname", "user_realname_changed"),
}
# The events MONITOR follows (the server hands these to Monitors.on_event).
EVENTS = frozenset({SignedOn, Quit, Renamed, *EXTENDED})

# A 730-732 line's comma list stays under this many bytes (plus the prefix and
# the nick, well within 512); longer lists are sent in several lines.
_LIST_BYTES = 400


def send_list(conn: IRCConnection, code: str, items: Iterable[str]) -> None:
    """`code` numerics whose last parameter is a comma list of `items`, split to fit a line."""
    chunk: list[str] = []
    size = 0
    for item in items:
        if chunk and size + len(item) + 1 > _LIST_BYTES:
            conn.numeric(code, ",".join(chunk))
            chunk, size = [], 0
        chunk.append(item)
        size += len(item.encode()) + 1
    if chunk:
        conn.numeric(code, ",".join(chunk))


def online_mask(user: User) -> str:
    return f"{user.name}!{user.username}@{user.host}"


class Monitors:
    """Every connection's monitor list and, per folded nick, who monitors it."""

    def __init__(self, casefold: Callable[[str], str]) -> None:
        self.casefold = casefold
        # connection -> folded nick -> the nick as the client gave it (for MONITOR L)
        self.lists: dict[IRCConnection, dict[str, str]] = {}
        # folded nick -> connections monitoring it
        self.watchers: dict[str, set[IRCConnection]] = {}

    def entries(self, conn: IRCConnection) -> dict[str, str]:
        return self.lists.get(conn, {})

    def add(self, conn: IRCConnection, nick: str) -> None:
        folded = self.casefold(nick)
        entries = self.lists.setdefault(conn, {})
        if folded in entries:
            return  # never twice (IRCv3 MONITOR)
        entries[folded] = nick
        self.watchers.setdefault(folded, set()).add(conn)

    def remove(self, conn: IRCConnection, nick: str) -> None:
        folded = self.casefold(nick)
        entries = self.lists.get(conn)
        if entries is None or entries.pop(folded, None) is None:
            return
        watchers = self.watchers.get(folded)
        if watchers is not None:
            watchers.discard(conn)
            if not watchers:
                del self.watchers[folded]
        if not entries:
            del self.lists[conn]

    def clear(self, conn: IRCConnection) -> None:
        """Forget `conn`'s list (MONITOR C, and when the connection goes)."""
        for folded in list(self.lists.get(conn, ())):
            self.remove(conn, folded)

    # -- notifications -----------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        kind = type(event)
        if kind is SignedOn:
            self._online(event.user, event.user.folded)
        elif kind is Quit:
            self._offline(event.user.folded, event.user.name)
        elif kind is Renamed:
            old, new = self.casefold(event.old_name), event.user.folded
            if old != new:  # a change of case only: nobody came or went
                self._offline(old, event.old_name)
                self._online(event.user, new)
        elif kind in EXTENDED:
            self._extended(event, *EXTENDED[kind])

    def _online(self, user: User, folded: str) -> None:
        for conn in self.watchers.get(folded, ()):
            conn.numeric(N.RPL_MONONLINE, online_mask(user))

    def _extended(self, event: Event, cap: str, method: str) -> None:
        """extended-monitor: tell watchers with `cap` who do not share a channel with the user."""
        user = event.user  # type: ignore[attr-defined]
        for conn in self.watchers.get(user.folded, ()):
            me = conn.user
            if (
                me is None or me is user or "extended-monitor" not in conn.caps
                or cap not in conn.caps
                or not me.groups.keys().isdisjoint(user.groups.keys())
            ):
                continue
            getattr(conn, method)(event)

    def _offline(self, folded: str, name: str) -> None:
        for conn in self.watchers.get(folded, ()):
            conn.numeric(N.RPL_MONOFFLINE, name)
