"""Questions about the server: VERSION TIME ADMIN INFO LINKS STATS."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from words import __version__
from words.irc import numerics as N
from words.irc.commands import command
from words.masks import match_mask

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection

_INFO = (
    f"words {__version__}: an IRC server on Python asyncio,",
    "heir of Twisted Words (twisted.words, 2001-).",
    "It serves one words realm to IRC clients, bots and an XMPP gateway.",
    "Behaviour follows the modern IRC client protocol (modern.ircdocs.horse) and RFC 2812.",
)


def _is_this_server(conn: IRCConnection, target: str | None) -> bool:
    """True when `target` is absent, names this server (a mask may), or is a user here.

    Otherwise replies 402: there is only one server, this one.
    """
    if not target:
        return True
    server = conn.server
    folded = server.realm.casefold(target)
    if match_mask(folded, server.realm.casefold(server.name)):
        return True
    user = server.realm.find_user(target)
    if user is not None and user.online:
        return True  # every user is on this server
    conn.numeric(N.ERR_NOSUCHSERVER, target, "No such server")
    return False


@command("VERSION")
def handle_version(conn: IRCConnection, msg: Message) -> None:
    if not _is_this_server(conn, msg.params[0] if msg.params else None):
        return
    server = conn.server
    conn.numeric(N.RPL_VERSION, f"words-{__version__}", server.name, server.config.description)
    for tokens in server.isupport:
        conn.numeric(N.RPL_ISUPPORT, *tokens, "are supported by this server")


@command("TIME")
def handle_time(conn: IRCConnection, msg: Message) -> None:
    if not _is_this_server(conn, msg.params[0] if msg.params else None):
        return
    now = time.time()
    human = time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime(now))
    conn.numeric(N.RPL_TIME, conn.server.name, str(int(now)), "0", human)


@command("ADMIN")
def handle_admin(conn: IRCConnection, msg: Message) -> None:
    if not _is_this_server(conn, msg.params[0] if msg.params else None):
        return
    server = conn.server
    location, details, email = server.config.admin
    conn.numeric(N.RPL_ADMINME, server.name, "Administrative info")
    conn.numeric(N.RPL_ADMINLOC1, location or server.config.description)
    conn.numeric(N.RPL_ADMINLOC2, details or f"{server.config.network} IRC network")
    conn.numeric(N.RPL_ADMINEMAIL, email or "No administrative e-mail address is configured")


@command("INFO")
def handle_info(conn: IRCConnection, msg: Message) -> None:
    if not _is_this_server(conn, msg.params[0] if msg.params else None):
        return
    server = conn.server
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(server.created))
    for line in (*_INFO, f"Running since {started}."):
        conn.numeric(N.RPL_INFO, line)
    conn.numeric(N.RPL_ENDOFINFO, "End of INFO list")


@command("LINKS")
def handle_links(conn: IRCConnection, msg: Message) -> None:
    # LINKS [[remote] mask]: with two parameters the first names the server to ask.
    if len(msg.params) > 1 and not _is_this_server(conn, msg.params[0]):
        return
    mask = msg.params[-1] if msg.params and msg.params[-1] else "*"
    server = conn.server
    realm = server.realm
    if match_mask(realm.casefold(mask), realm.casefold(server.name)):
        conn.numeric(N.RPL_LINKS, server.name, server.name, f"0 {server.config.description}")
    conn.numeric(N.RPL_ENDOFLINKS, mask, "End of /LINKS list")


def _uptime(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"Server Up {days} days {hours}:{minutes:02d}:{secs:02d}"


@command("STATS", min_params=1)
def handle_stats(conn: IRCConnection, msg: Message) -> None:
    if not _is_this_server(conn, msg.params[1] if len(msg.params) > 1 else None):
        return
    query = msg.params[0]
    letter = query[:1] or "*"
    server = conn.server
    if letter == "u":
        conn.numeric(N.RPL_STATSUPTIME, _uptime(time.time() - server.created))
    elif letter == "o":
        if conn.oper is None:
            conn.numeric(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
            return
        for oper in server.config.opers:
            for host in oper.hosts:
                conn.numeric(N.RPL_STATSOLINE, "O", host, "*", oper.name)
    elif letter in ("k", "K", "d", "D"):
        if conn.oper is None:
            conn.numeric(N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
            return
        _stats_bans(conn, letter.lower())
    elif letter == "m":
        for name, count in sorted(server.command_counts.items()):
            conn.numeric(N.RPL_STATSCOMMANDS, name, str(count))
    conn.numeric(N.RPL_ENDOFSTATS, letter, "End of /STATS report")


def _stats_bans(conn: IRCConnection, kind: str) -> None:
    """STATS k: 216 K host * user :reason; STATS d: 225 address :reason (expiry, who, when)."""
    from words.irc.serverbans import format_duration

    now = time.time()
    for ban in conn.server.bans.active(kind, now):
        left = "permanent" if ban.expires is None else f"expires in {format_duration(ban.expires - now)}"
        set_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ban.set_at))
        text = f"{ban.reason} ({left}; set by {ban.set_by} at {set_at})"
        if kind == "k":
            user, _, host = ban.mask.partition("@")
            conn.numeric(N.RPL_STATSKLINE, "K", host, "*", user, text)
        else:
            conn.numeric(N.RPL_STATSDLINE, ban.mask, text)
