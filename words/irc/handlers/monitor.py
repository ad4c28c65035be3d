"""MONITOR (IRCv3): + targets, - targets, C, L, S; the state lives in words.irc.monitor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.commands import command
from words.irc.handlers.registration import valid_nick
from words.irc.monitor import online_mask, send_list

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection

# How much of the refused targets a 734 repeats.
_REFUSED_BYTES = 400


def _targets(msg: Message) -> list[str]:
    return [t for t in msg.params[1].split(",") if t] if len(msg.params) > 1 else []


@command("MONITOR", min_params=1)
def handle_monitor(conn: IRCConnection, msg: Message) -> None:
    sub = msg.params[0]
    monitors = conn.server.monitors
    if sub in ("+", "-"):
        targets = _targets(msg)
        if not targets:
            conn.numeric(N.ERR_NEEDMOREPARAMS, "MONITOR", "Not enough parameters")
        elif sub == "+":
            _add(conn, targets)
        else:
            for target in targets:
                monitors.remove(conn, target)
    elif sub.upper() == "C":
        monitors.clear(conn)
    elif sub.upper() == "L":
        send_list(conn, N.RPL_MONLIST, monitors.entries(conn).values())
        conn.numeric(N.RPL_ENDOFMONLIST, "End of MONITOR list")
    elif sub.upper() == "S":
        _status(conn, list(monitors.entries(conn).values()))
    # Any other modifier is not MONITOR's: ignored, as the spec defines no reply.


def _add(conn: IRCConnection, targets: list[str]) -> None:
    """Add what fits (valid nicks only), report the status of each, then 734 for the rest."""
    server = conn.server
    monitors = server.monitors
    limit = server.config.limits.max_monitor_entries
    maxlen = server.config.limits.nicklen
    entries = monitors.entries(conn)
    added: list[str] = []
    refused: list[str] = []
    for i, target in enumerate(targets):
        if not valid_nick(target, maxlen):
            continue  # a target must be a valid nick; others are not monitored
        if monitors.casefold(target) not in entries and len(entries) >= limit:
            refused = targets[i:]
            break
        monitors.add(conn, target)
        entries = monitors.entries(conn)
        added.append(target)
    _status(conn, added)
    if refused:
        listed = ",".join(refused)
        if len(listed) > _REFUSED_BYTES:  # the reply must stay one line of 512 bytes
            listed = listed[:_REFUSED_BYTES].rpartition(",")[0] or refused[0]
        conn.numeric(N.ERR_MONLISTFULL, str(limit), listed, "Monitor list is full.")


def _status(conn: IRCConnection, nicks: list[str]) -> None:
    """730 for those online (nick!user@host), 731 for the others."""
    realm = conn.server.realm
    online, offline = [], []
    for nick in nicks:
        user = realm.find_user(nick)
        if user is not None and user.online:
            online.append(online_mask(user))
        else:
            offline.append(nick)
    send_list(conn, N.RPL_MONONLINE, online)
    send_list(conn, N.RPL_MONOFFLINE, offline)
