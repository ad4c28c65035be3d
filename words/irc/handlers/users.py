"""Commands about users: AWAY ISON USERHOST WHOWAS KICK INVITE."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.commands import command
from words.irc.handlers.channels import find_channel

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection

_USERHOST_MAX = 5  # nicks per USERHOST, as RFC 2812 says


@command("AWAY")
def handle_away(conn: IRCConnection, msg: Message) -> None:
    user = conn.user
    assert user is not None
    text = msg.params[0][: conn.server.config.limits.awaylen] if msg.params else ""
    conn.server.realm.set_away(user, text or None)
    if text:
        conn.numeric(N.RPL_NOWAWAY, "You have been marked as being away")
    else:
        conn.numeric(N.RPL_UNAWAY, "You are no longer marked as being away")


@command("ISON", min_params=1)
def handle_ison(conn: IRCConnection, msg: Message) -> None:
    realm = conn.server.realm
    online = []
    for param in msg.params:  # nicks as separate parameters or one trailing list
        for nick in param.split():
            user = realm.find_user(nick)
            if user is not None and user.online:
                online.append(user.name)
    conn.numeric(N.RPL_ISON, " ".join(online))


@command("USERHOST", min_params=1)
def handle_userhost(conn: IRCConnection, msg: Message) -> None:
    realm = conn.server.realm
    replies = []
    for nick in msg.params[:_USERHOST_MAX]:
        user = realm.find_user(nick)
        if user is None or not user.online:
            continue
        oper = "*" if "operator" in user.flags else ""
        away = "-" if user.away is not None else "+"
        replies.append(f"{user.name}{oper}={away}{user.username}@{user.host}")
    conn.numeric(N.RPL_USERHOST, " ".join(replies))


@command("WHOWAS")
def handle_whowas(conn: IRCConnection, msg: Message) -> None:
    if not msg.params or not msg.params[0]:
        conn.numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    nick = msg.params[0]
    count = 0  # 0 or less: every entry
    if len(msg.params) > 1 and msg.params[1].lstrip("-").isdecimal():
        count = int(msg.params[1])
    server = conn.server
    folded = server.realm.casefold(nick)
    found = 0
    for entry in server.whowas:  # newest first
        if server.realm.casefold(entry.nick) != folded:
            continue
        conn.numeric(N.RPL_WHOWASUSER, entry.nick, entry.username, entry.host, "*", entry.realname)
        conn.numeric(N.RPL_WHOISSERVER, entry.nick, server.name, time.ctime(entry.when))
        found += 1
        if found == count:
            break
    if not found:
        conn.numeric(N.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
    conn.numeric(N.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")


@command("KICK", min_params=2)
def handle_kick(conn: IRCConnection, msg: Message) -> None:
    user = conn.user
    assert user is not None
    group = find_channel(conn, msg.params[0])
    if group is None:
        return
    if not conn.is_chanop(group):
        if user in group.members:
            conn.numeric(N.ERR_CHANOPRIVSNEEDED, group.name, "You're not channel operator")
        else:
            conn.numeric(N.ERR_NOTONCHANNEL, group.name, "You're not on that channel")
        return
    realm = conn.server.realm
    reason = msg.params[2] if len(msg.params) > 2 else ""
    reason = reason[: conn.server.config.limits.kicklen] or user.name
    for nick in msg.params[1].split(","):
        if not nick:
            continue
        target = realm.find_user(nick)
        if target is None or not target.online:
            conn.numeric(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        elif target not in group.members:
            conn.numeric(N.ERR_USERNOTINCHANNEL, target.name, group.name, "They aren't on that channel")
        else:
            realm.kick(group, target, user, reason)


@command("INVITE", min_params=2)
def handle_invite(conn: IRCConnection, msg: Message) -> None:
    user = conn.user
    assert user is not None
    realm = conn.server.realm
    target = realm.find_user(msg.params[0])
    if target is None or not target.online:
        conn.numeric(N.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
        return
    group = find_channel(conn, msg.params[1])
    if group is None:
        return
    if user not in group.members and not conn.is_chanop(group):
        conn.numeric(N.ERR_NOTONCHANNEL, group.name, "You're not on that channel")
        return
    if target in group.members:
        conn.numeric(N.ERR_USERONCHANNEL, target.name, group.name, "is already on channel")
        return
    if group.settings.invite_only and not conn.is_chanop(group):
        conn.numeric(N.ERR_CHANOPRIVSNEEDED, group.name, "You're not channel operator")
        return
    realm.invite(group, target, user)
    conn.numeric(N.RPL_INVITING, target.name, group.name)
    if target.away is not None:
        conn.numeric(N.RPL_AWAY, target.name, target.away)
