"""Connection registration and upkeep: PASS NICK USER CAP PING PONG QUIT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.irc import caps
from words.irc import numerics as N
from words.irc.commands import command
from words.names import valid_nick
from words.realm import DuplicateUser

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection

_USERLEN = 16


def refuse_without_account(conn: IRCConnection) -> None:
    """`require_account: true` and the client neither used SASL nor sent PASS: 464, then ERROR."""
    conn.log.info("refused %s: not logged in and the server requires an account", conn.nick)
    conn.numeric(
        N.ERR_PASSWDMISMATCH,
        "This server requires an account: log in with SASL or PASS account:password",
    )
    conn.close("An account is required: log in with SASL or PASS account:password")


@command("PASS", min_params=1, needs_registration=False)
def handle_pass(conn: IRCConnection, msg: Message) -> None:
    if conn.user is not None or conn.avatar is not None:
        conn.numeric(N.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    conn.password = msg.params[0]


@command("NICK", needs_registration=False)
def handle_nick(conn: IRCConnection, msg: Message) -> None:
    if not msg.params or not msg.params[0]:
        conn.numeric(N.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    nick = msg.params[0]
    config = conn.server.config
    if not valid_nick(nick, config.limits.nicklen, config.nick_charset):
        conn.numeric(N.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
        return
    realm = conn.server.realm
    other = realm.find_user(nick)
    user = conn.user
    if other is not None and other is not user and (other.online or user is None):
        conn.numeric(N.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    look_alike = conn.server.nick_skeletons.owner(nick)
    if look_alike is not None and look_alike is not user and look_alike is not other:
        # A confusable of a nick in use (words.names: the skeleton rule).
        conn.numeric(N.ERR_NICKNAMEINUSE, nick, f"Nickname looks like {look_alike.name}, which is in use")
        return
    if user is None:
        conn.nick = nick
        conn.try_register()
        return
    cluster = getattr(conn.server, "cluster", None)
    if cluster is not None and realm.casefold(nick) != user.folded:
        # Another node may hold the nick: claim it across the network first (433 if taken).
        conn.run_holding_input(cluster.rename_claimed(conn, nick))
        return
    try:
        realm.rename(user, nick)
    except DuplicateUser:
        conn.numeric(N.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    conn.nick = user.name


@command("USER", min_params=4, needs_registration=False)
def handle_user(conn: IRCConnection, msg: Message) -> None:
    if conn.user is not None or conn.username is not None:
        conn.numeric(N.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    username = "".join(c for c in msg.params[0] if c.isalnum() or c in "-_.")[: _USERLEN - 1]
    if not username:
        conn.numeric(N.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        return
    # No ident lookup is done, so the user name carries the customary '~'.
    conn.username = "~" + username
    conn.realname = msg.params[3]
    conn.try_register()


@command("CAP", min_params=1, needs_registration=False)
def handle_cap(conn: IRCConnection, msg: Message) -> None:
    caps.handle_cap(conn, msg.params[0].upper(), msg.params[1:])


@command("PING", min_params=1, needs_registration=False)
def handle_ping(conn: IRCConnection, msg: Message) -> None:
    conn.send("PONG", conn.server.name, msg.params[0], source=conn.server.name)


@command("PONG", needs_registration=False)
def handle_pong(conn: IRCConnection, msg: Message) -> None:
    pass  # any input already counts as activity


@command("QUIT", needs_registration=False)
def handle_quit(conn: IRCConnection, msg: Message) -> None:
    reason = msg.params[0] if msg.params else ""
    conn.close(f"Quit: {reason}" if reason else "Quit")
