"""Server operators: OPER KILL WALLOPS REHASH DIE RESTART CHGHOST, KLINE UNKLINE DLINE UNDLINE."""

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
    conn.log.info("KILL %s by %s: %s", victim.name, _who(conn), comment)
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
    conn.log.info("WALLOPS by %s: %s", _who(conn), text)
    conn.server.realm.wallops(conn.user, text)


@command("REHASH")
def handle_rehash(conn: IRCConnection, msg: Message) -> None:
    if not _require_oper(conn):
        return
    server = conn.server
    source = server.config.source
    conn.log.info("REHASH by %s", _who(conn))
    error = server.rehash()
    if error is None:
        conn.numeric(N.RPL_REHASHING, source, "Rehashing")
    else:
        conn.notice(f"*** REHASH failed, the old configuration is kept: {error}")


# CHGHOST: what a user name and a visible host may hold (InspIRCd's default charmap).
_USERNAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
)
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")
_USERNAME_LEN = 16
_HOST_LEN = 64


def _bad_user_or_host(username: str, host: str) -> str | None:
    """What is wrong with a CHGHOST user name or host, or None."""
    if not 0 < len(username) <= _USERNAME_LEN or not _USERNAME_CHARS.issuperset(username):
        return f"{username!r} is not a user name (up to {_USERNAME_LEN} of A-Z a-z 0-9 - _ . ~)"
    if (
        not 0 < len(host) <= _HOST_LEN
        or not _HOST_CHARS.issuperset(host)
        or host[0] in "-./"
    ):
        return f"{host!r} is not a host (up to {_HOST_LEN} of A-Z a-z 0-9 - _ . /)"
    return None


@command("CHGHOST", min_params=3)
def handle_chghost(conn: IRCConnection, msg: Message) -> None:
    """CHGHOST <nick> <user> <host>: show a user with another user name and host (a vhost).

    Bans still match the real address; clients with chghost see a CHGHOST
    line, others a QUIT and JOINs (words.irc.connection.user_host_changed).
    """
    if not _require_oper(conn):
        return
    nick, username, host = msg.params[0], msg.params[1], msg.params[2]
    realm = conn.server.realm
    target = realm.find_user(nick)
    if target is None or not target.online:
        conn.numeric(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    problem = _bad_user_or_host(username, host)
    if problem is not None:
        conn.notice(f"*** CHGHOST: {problem}")
        return
    if username == target.username and host == target.host:
        conn.notice(f"*** CHGHOST: {target.name} is already {user_prefix(target)}")
        return
    old = user_prefix(target)
    conn.log.info("CHGHOST %s to %s@%s by %s", old, username, host, _who(conn))
    realm.set_host(target, username, host)
    conn.notice(f"*** CHGHOST: {old} is now {user_prefix(target)}")


def _shutdown(conn: IRCConnection, name: str, allowed: bool, restart: bool) -> None:
    if not _require_oper(conn):
        return
    if not allowed:
        conn.numeric(
            N.ERR_NOPRIVILEGES,
            f"Permission Denied- {name} is disabled in the configuration (allow_{name.lower()})",
        )
        return
    conn.log.warning("%s by %s", name, _who(conn))
    doing = "restarting" if restart else "shutting down"
    conn.server.request_shutdown(f"Server {doing} ({name} by {conn.nick})", restart=restart)


@command("DIE")
def handle_die(conn: IRCConnection, msg: Message) -> None:
    _shutdown(conn, "DIE", conn.server.config.allow_die, restart=False)


@command("RESTART")
def handle_restart(conn: IRCConnection, msg: Message) -> None:
    _shutdown(conn, "RESTART", conn.server.config.allow_restart, restart=True)


# -- K-lines and D-lines ---------------------------------------------------------------

# What an oper hears of a ban change made while the database is away.
_WAITING = "the database is unavailable, so {} is stored when it is back, unless the server stops first"


def _ban_args(conn: IRCConnection, msg: Message) -> tuple[int | None, str, str] | None:
    """[duration] mask [:reason] -> (seconds or None, mask, reason); 461 and None if no mask."""
    from words.irc.serverbans import parse_duration

    params = list(msg.params)
    duration = parse_duration(params[0]) if len(params) > 1 else None
    if duration is not None:
        params.pop(0)
    reason = params[1] if len(params) > 1 and params[1].strip() else "No reason given"
    return duration, params[0], reason


def _who(conn: IRCConnection) -> str:
    assert conn.oper is not None
    return f"{conn.nick} (oper {conn.oper.name})"


def _kline_mask(conn: IRCConnection, target: str) -> str | None:
    """user@host as given, or *@address of an online nick; None if neither."""
    if "@" in target:
        user, _, host = target.partition("@")
        return f"{user or '*'}@{host or '*'}"
    victim = conn.server.realm.find_user(target)
    if victim is None or not victim.online:
        return None
    return f"*@{victim.real_host or victim.host}"


def _dline_mask(conn: IRCConnection, target: str) -> str | None:
    from words.irc.serverbans import parse_network

    if parse_network(target) is not None:
        return target
    victim = conn.server.realm.find_user(target)
    mind = victim.mind if victim is not None else None
    if isinstance(mind, IRCConnection) and parse_network(mind.peer_host) is not None:
        return mind.peer_host
    return None


@command("KLINE", min_params=1)
def handle_kline(conn: IRCConnection, msg: Message) -> None:
    if not _require_oper(conn):
        return
    duration, target, reason = _ban_args(conn, msg)
    mask = _kline_mask(conn, target)
    if mask is None:
        conn.notice(f"*** KLINE: {target!r} is neither user@host nor an online nick")
        return
    conn.run_holding_input(_add_ban(conn, "k", mask, reason, duration))


@command("DLINE", min_params=1)
def handle_dline(conn: IRCConnection, msg: Message) -> None:
    if not _require_oper(conn):
        return
    duration, target, reason = _ban_args(conn, msg)
    mask = _dline_mask(conn, target)
    if mask is None:
        conn.notice(f"*** DLINE: {target!r} is neither an address, a CIDR nor an online nick")
        return
    conn.run_holding_input(_add_ban(conn, "d", mask, reason, duration))


async def _add_ban(conn: IRCConnection, kind: str, mask: str, reason: str, duration: int | None) -> None:
    import time

    from words.irc.serverbans import ServerBan, format_duration

    server = conn.server
    now = time.time()
    ban = ServerBan(kind, mask, reason, _who(conn), now, now + duration if duration else None)
    name = f"{kind.upper()}-line"
    how_long = f"for {format_duration(duration)}" if duration else "permanently"
    conn.log.info("%s %s %s by %s: %s", name, mask, how_long, _who(conn), reason)
    stored = await server.bans.add(ban)
    server.realm.server_ban_changed(kind, mask, ban)  # the other nodes of a cluster too
    if not conn.closing:
        if stored.state == "refused":
            conn.notice(f"*** {name} for {mask} is in force but could not be stored (lost at "
                        f"restart): {stored.error}")
        elif stored.state == "waiting":
            conn.notice(f"*** {name} added for {mask} {how_long}: {reason} (in force now; "
                        f"{_WAITING.format('it')})")
        else:
            conn.notice(f"*** {name} added for {mask} {how_long}: {reason}")
    server.enforce_ban(ban, _who(conn), conn)


@command("UNKLINE", min_params=1)
def handle_unkline(conn: IRCConnection, msg: Message) -> None:
    if _require_oper(conn):
        mask = msg.params[0]
        if "@" not in mask:
            mask = f"*@{mask}"
        conn.run_holding_input(_remove_ban(conn, "k", mask))


@command("UNDLINE", min_params=1)
def handle_undline(conn: IRCConnection, msg: Message) -> None:
    if _require_oper(conn):
        conn.run_holding_input(_remove_ban(conn, "d", msg.params[0]))


async def _remove_ban(conn: IRCConnection, kind: str, mask: str) -> None:
    name = f"{kind.upper()}-line"
    found, stored = await conn.server.bans.remove(kind, mask)
    if found:
        conn.log.info("%s %s removed by %s", name, mask, _who(conn))
        conn.server.realm.server_ban_changed(kind, mask, None)
    if conn.closing:
        return
    if not found:
        conn.notice(f"*** No {name} for {mask}")
    elif stored.state == "refused":
        conn.notice(f"*** {name} for {mask} is lifted but could not be removed from the database: "
                    f"{stored.error}")
    elif stored.state == "waiting":
        conn.notice(f"*** {name} for {mask} removed (lifted now; {_WAITING.format('the removal')})")
    else:
        conn.notice(f"*** {name} for {mask} removed")
