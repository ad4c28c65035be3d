"""Server operators: OPER KILL WALLOPS REHASH DIE RESTART."""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.commands import command
from words.irc.connection import IRCConnection, user_prefix

if TYPE_CHECKING:
    from words.irc.codec import Message

_NOT_OPER = "Permission Denied- You're not an IRC operator"


def _require_oper(conn: IRCConnection) -> bool:
    """True for an IRC operator; otherwise replies 481 and returns False."""
    if conn.oper is None:
        conn.numeric(N.ERR_NOPRIVILEGES, _NOT_OPER)
        return False
    return True


@command("OPER", min_params=2)
def handle_oper(conn: IRCConnection, msg: Message) -> None:
    # The password check runs off the loop (words.cred); the reply comes when it ends.
    name, password = msg.params[0], msg.params[1]
    conn.run_holding_input(_oper(conn, name, password))


async def _oper(conn: IRCConnection, name: str, password: str) -> None:
    server = conn.server
    # check_oper always verifies the password, so a wrong host costs the same
    # time as a wrong password; only then is the host looked at for the reply.
    oper = await server.check_oper(conn, name, password)
    user = conn.user
    if conn.closing or user is None:
        return
    if oper is None:
        if not server.oper_host_allowed(conn, name):
            conn.log.warning("failed OPER as %r: no oper block for this host", name)
            conn.numeric(N.ERR_NOOPERHOST, "No O-lines for your host")
        else:
            conn.log.warning("failed OPER as %r: wrong password", name)
            conn.numeric(N.ERR_PASSWDMISMATCH, "Password incorrect")
        return
    conn.oper = oper
    conn.log.info("OPER as %r by %s", oper.name, user_prefix(user))
    server.realm.set_user_flags(user, [("operator", True)])
    conn.numeric(N.RPL_YOUREOPER, "You are now an IRC operator")


@command("KILL", min_params=2)
def handle_kill(conn: IRCConnection, msg: Message) -> None:
    if not _require_oper(conn):
        return
    killer = conn.user
    assert killer is not None
    realm = conn.server.realm
    nick, comment = msg.params[0], msg.params[1]
    victim = realm.find_user(nick)
    if victim is None or not victim.online:
        conn.numeric(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    reason = f"Killed ({killer.name} ({comment}))"
    conn.log.info("KILL %s by %s (oper %r): %s", victim.name, killer.name, conn.oper.name, comment)
    mind = victim.mind
    if isinstance(mind, IRCConnection):
        mind.close(reason)  # ERROR to the victim, QUIT to everyone sharing a channel
    else:
        realm.sign_off(victim, reason)


@command("WALLOPS", min_params=1)
def handle_wallops(conn: IRCConnection, msg: Message) -> None:
    if not _require_oper(conn):
        return
    text = msg.params[0]
    if not text:
        conn.numeric(N.ERR_NEEDMOREPARAMS, "WALLOPS", "Not enough parameters")
        return
    conn.server.realm.wallops(conn.user, text)


@command("REHASH")
def handle_rehash(conn: IRCConnection, msg: Message) -> None:
    if not _require_oper(conn):
        return
    server = conn.server
    source = server.config.source
    conn.log.info("REHASH by %s (oper %r)", conn.nick, conn.oper.name)
    error = server.rehash()
    if error is None:
        conn.numeric(N.RPL_REHASHING, source, "Rehashing")
    else:
        conn.notice(f"*** REHASH failed, the old configuration is kept: {error}")


def _shutdown(conn: IRCConnection, name: str, allowed: bool, restart: bool) -> None:
    if not _require_oper(conn):
        return
    if not allowed:
        conn.numeric(
            N.ERR_NOPRIVILEGES,
            f"Permission Denied- {name} is disabled in the configuration (allow_{name.lower()})",
        )
        return
    conn.log.warning("%s by %s (oper %r)", name, conn.nick, conn.oper.name)
    doing = "restarting" if restart else "shutting down"
    conn.server.request_shutdown(f"Server {doing} ({name} by {conn.nick})", restart=restart)


@command("DIE")
def handle_die(conn: IRCConnection, msg: Message) -> None:
    _shutdown(conn, "DIE", conn.server.config.allow_die, restart=False)


@command("RESTART")
def handle_restart(conn: IRCConnection, msg: Message) -> None:
    _shutdown(conn, "RESTART", conn.server.config.allow_restart, restart=True)
