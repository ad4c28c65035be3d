"""Queries about users and the server: WHO WHOIS LUSERS MOTD."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.codec import match_mask
from words.irc.commands import command

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection
    from words.realm import Group, User


def _who_reply(conn: IRCConnection, user: User, group: Group | None) -> None:
    flags = "H"
    if group is not None:
        flags += conn.prefixes(group, user)
    elif user.groups:
        group = next(iter(user.groups.values()))
    channel = group.name if group is not None else "*"
    conn.numeric(
        N.RPL_WHOREPLY, channel, user.username, user.host, conn.server.name,
        user.name, flags, f"0 {user.realname}",
    )


@command("WHO")
def handle_who(conn: IRCConnection, msg: Message) -> None:
    realm = conn.server.realm
    mask = msg.params[0] if msg.params and msg.params[0] else "*"
    opers_only = len(msg.params) > 1 and "o" in msg.params[1]
    if mask.startswith("#"):
        group = realm.find_group(mask)
        if group is not None and not opers_only:
            for member in group.members:
                _who_reply(conn, member, group)
    elif not opers_only:  # there are no server operators yet
        folded = realm.casefold(mask)
        for user in realm.users.values():
            if user.online and match_mask(folded, user.folded):
                _who_reply(conn, user, None)
    conn.numeric(N.RPL_ENDOFWHO, mask, "End of WHO list")


@command("WHOIS", min_params=1)
def handle_whois(conn: IRCConnection, msg: Message) -> None:
    realm = conn.server.realm
    nick = msg.params[-1]  # WHOIS [server] nick
    user = realm.find_user(nick)
    if user is None or not user.online:
        conn.numeric(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        conn.numeric(N.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
        return
    conn.numeric(N.RPL_WHOISUSER, user.name, user.username, user.host, "*", user.realname)
    channels = [conn.prefixes(g, user) + g.name for g in user.groups.values()]
    if channels:
        conn.numeric(N.RPL_WHOISCHANNELS, user.name, " ".join(channels))
    conn.numeric(N.RPL_WHOISSERVER, user.name, conn.server.name, conn.server.config.description)
    if user.account:
        conn.numeric(N.RPL_WHOISACCOUNT, user.name, user.account, "is logged in as")
    idle = int(time.time() - user.last_message)
    conn.numeric(
        N.RPL_WHOISIDLE, user.name, str(max(idle, 0)), str(int(user.signed_on)),
        "seconds idle, signon time",
    )
    conn.numeric(N.RPL_ENDOFWHOIS, user.name, "End of /WHOIS list")


@command("LUSERS")
def handle_lusers(conn: IRCConnection, msg: Message) -> None:
    conn.server.send_lusers(conn)


@command("MOTD")
def handle_motd(conn: IRCConnection, msg: Message) -> None:
    conn.server.send_motd(conn)
