"""Queries about users and the server: WHO WHOIS LUSERS MOTD."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.codec import match_mask
from words.irc.commands import command
from words.irc.handlers.channels import channel_visible, insider

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection
    from words.realm import Group, User


def _who_reply(conn: IRCConnection, user: User, group: Group | None) -> None:
    # H here or G gone, * an operator, the channel prefix, B a bot (as Ergo).
    flags = "G" if user.away is not None else "H"
    if "operator" in user.flags:
        flags += "*"
    if group is not None:
        flags += conn.prefixes(group, user)
    else:
        group = next((g for g in user.groups.values() if channel_visible(conn, g)), None)
    if "bot" in user.flags:
        flags += "B"
    channel = group.name if group is not None else "*"
    conn.numeric(
        N.RPL_WHOREPLY, channel, user.username, user.host, conn.server.name,
        user.name, flags, f"0 {user.realname}",
    )


def _shares_a_channel(asker: User, user: User) -> bool:
    return asker is user or not asker.groups.keys().isdisjoint(user.groups.keys())


@command("WHO")
def handle_who(conn: IRCConnection, msg: Message) -> None:
    """WHO #chan or WHO mask, 'o' for operators only; +s/+p and +i hide from outsiders."""
    asker = conn.user
    assert asker is not None
    realm = conn.server.realm
    mask = msg.params[0] if msg.params and msg.params[0] else "*"
    opers_only = len(msg.params) > 1 and "o" in msg.params[1]
    if mask.startswith("#"):
        group = realm.find_group(mask)
        if group is not None and channel_visible(conn, group):
            see_all = insider(conn, group)
            for member in group.members:
                if opers_only and "operator" not in member.flags:
                    continue
                if see_all or "invisible" not in member.flags:
                    _who_reply(conn, member, group)
    else:
        folded = realm.casefold(mask)
        see_all = conn.oper is not None
        for user in realm.users.values():
            if (
                user.online
                and (not opers_only or "operator" in user.flags)
                and match_mask(folded, user.folded)
                and (see_all or "invisible" not in user.flags or _shares_a_channel(asker, user))
            ):
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
    channels = [
        conn.prefixes(g, user) + g.name for g in user.groups.values() if channel_visible(conn, g)
    ]
    if channels:
        conn.numeric(N.RPL_WHOISCHANNELS, user.name, " ".join(channels))
    conn.numeric(N.RPL_WHOISSERVER, user.name, conn.server.name, conn.server.config.description)
    if user.away is not None:
        conn.numeric(N.RPL_AWAY, user.name, user.away)
    if "operator" in user.flags:
        conn.numeric(N.RPL_WHOISOPERATOR, user.name, "is an IRC operator")
    if "bot" in user.flags:
        conn.numeric(N.RPL_WHOISBOT, user.name, "is a bot")
    if user.real_host and user.real_host != user.host and (conn.oper is not None or user is conn.user):
        # The address behind a cloak: for operators (and the user itself) only.
        conn.numeric(N.RPL_WHOISACTUALLY, user.name, user.real_host, "actually using host")
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
