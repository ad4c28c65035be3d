"""Queries about users and the server: WHO (and WHOX) WHOIS LUSERS MOTD."""

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


def _who_flags(conn: IRCConnection, user: User, group: Group | None) -> str:
    # H here or G gone, * an operator, the channel prefix, B a bot (as Ergo).
    flags = "G" if user.away is not None else "H"
    if "operator" in user.flags:
        flags += "*"
    if group is not None:
        flags += conn.prefixes(group, user)
    if "bot" in user.flags:
        flags += "B"
    return flags


def _who_channel(conn: IRCConnection, user: User, group: Group | None) -> Group | None:
    """The channel a reply names: the one asked about, else one of the user's the asker may see."""
    if group is not None:
        return group
    return next((g for g in user.groups.values() if channel_visible(conn, g)), None)


def _who_reply(conn: IRCConnection, user: User, group: Group | None) -> None:
    flags = _who_flags(conn, user, group)
    shown = _who_channel(conn, user, group)
    conn.numeric(
        N.RPL_WHOREPLY, shown.name if shown is not None else "*", user.username, user.host,
        conn.server.name, user.name, flags, f"0 {user.realname}",
    )


# WHOX fields in the order their values are sent (whatever order they were asked in):
# token, channel, user, IP, host, server, nick, flags, hop count, idle, account,
# op level, real name.
WHOX_FIELDS = "tcuihsnfdlaor"
# The IP shown to those who may not see a cloaked user's address (IRCv3 WHOX).
_HIDDEN_IP = "255.255.255.255"


def _whox_reply(
    conn: IRCConnection, user: User, group: Group | None, fields: str, token: str
) -> None:
    """RPL_WHOSPCRPL (354): exactly the requested fields, in WHOX_FIELDS order."""
    values: list[str] = []
    for field in WHOX_FIELDS:
        if field not in fields:
            continue
        if field == "t":
            values.append(token)
        elif field == "c":
            shown = _who_channel(conn, user, group)
            values.append(shown.name if shown is not None else "*")
        elif field == "u":
            values.append(user.username)
        elif field == "i":
            values.append(_whox_ip(conn, user))
        elif field == "h":
            values.append(user.host)
        elif field == "s":
            values.append(conn.server.name)
        elif field == "n":
            values.append(user.name)
        elif field == "f":
            values.append(_who_flags(conn, user, group))
        elif field == "d":
            values.append("0")  # one server: every user is 0 hops away
        elif field == "l":
            values.append(str(max(int(time.time() - user.last_message), 0)))
        elif field == "a":
            values.append(user.account or "0")
        elif field == "o":
            values.append("n/a")  # no channel op levels here
        else:  # "r", always last: it may hold spaces
            values.append(user.realname)
    conn.numeric(N.RPL_WHOSPCRPL, *values)


def _whox_ip(conn: IRCConnection, user: User) -> str:
    """The user's address: hidden behind a cloak except from opers and the user itself."""
    address = user.real_host or user.host
    if address == user.host or conn.oper is not None or user is conn.user:
        return address
    return _HIDDEN_IP


def _shares_a_channel(asker: User, user: User) -> bool:
    return asker is user or not asker.groups.keys().isdisjoint(user.groups.keys())


def _parse_who_options(option: str) -> tuple[str, str | None, str]:
    """`[flags][%fields[,token]]` -> (flags, fields or None for a plain WHO, token).

    A token is up to three digits (IRCv3 WHOX); anything else, or none, is sent as 0.
    """
    flags, percent, rest = option.partition("%")
    if not percent:
        return flags, None, "0"
    fields, _, token = rest.partition(",")
    if not (token.isdigit() and len(token) <= 3 and token.isascii()):
        token = "0"
    return flags, fields, token


@command("WHO")
def handle_who(conn: IRCConnection, msg: Message) -> None:
    """WHO #chan or WHO mask, 'o' for operators only; +s/+p and +i hide from outsiders.

    WHOX: `WHO <mask> [o]%<fields>[,<token>]` answers 354 with just those fields.
    """
    asker = conn.user
    assert asker is not None
    realm = conn.server.realm
    mask = msg.params[0] if msg.params and msg.params[0] else "*"
    flags, fields, token = _parse_who_options(msg.params[1] if len(msg.params) > 1 else "")
    opers_only = "o" in flags

    def reply(user: User, group: Group | None) -> None:
        if fields is None:
            _who_reply(conn, user, group)
        else:
            _whox_reply(conn, user, group, fields, token)

    if mask.startswith("#"):
        group = realm.find_group(mask)
        if group is not None and channel_visible(conn, group):
            see_all = insider(conn, group)
            for member in group.members:
                if opers_only and "operator" not in member.flags:
                    continue
                if see_all or "invisible" not in member.flags:
                    reply(member, group)
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
                reply(user, None)
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
