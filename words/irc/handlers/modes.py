"""MODE: channel modes (lists, key, limit, flags, status) and user modes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from words.irc import numerics as N
from words.irc.commands import command
from words.irc.handlers.channels import find_channel
from words.irc.modes import (
    FLAG_MODES,
    KEY_MODES,
    LIMIT_MODES,
    LIST_MODES,
    STATUS_MODES,
    USER_MODES,
    mode_string,
    parse_channel_modes,
    user_mode_string,
)
from words.realm.service import LIST_CHANGES as LIST_FIELDS

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection
    from words.realm import Group

_LIST_REPLIES = {
    "b": (N.RPL_BANLIST, N.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": (N.RPL_EXCEPTLIST, N.RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    "I": (N.RPL_INVITELIST, N.RPL_ENDOFINVITELIST, "End of channel invite list"),
}
_MAX_KEY = 23  # as most ircds


@command("MODE", min_params=1)
def handle_mode(conn: IRCConnection, msg: Message) -> None:
    if msg.params[0].startswith("#"):
        _channel_mode(conn, msg)
    else:
        _user_mode(conn, msg)


def normalize_mask(mask: str) -> str:
    """Complete a ban mask as ircds do: 'nick' -> 'nick!*@*', 'u@h' -> '*!u@h'."""
    if "!" not in mask and "@" not in mask:
        return f"{mask}!*@*"
    if "!" not in mask:
        return f"*!{mask}"
    if "@" not in mask:
        return f"{mask}@*"
    return mask


def _entries(group: Group, letter: str) -> dict:
    return getattr(group.settings, LIST_FIELDS[LIST_MODES[letter]])


def _send_list(conn: IRCConnection, group: Group, letter: str) -> None:
    item, end, text = _LIST_REPLIES[letter]
    entries = _entries(group, letter)
    for entry in entries.values():
        conn.numeric(item, group.name, entry.mask, entry.set_by, str(int(entry.set_at)))
    conn.numeric(end, group.name, text)


def _channel_mode(conn: IRCConnection, msg: Message) -> None:
    user = conn.user
    assert user is not None
    group = find_channel(conn, msg.params[0])
    if group is None:
        return
    server = conn.server
    if len(msg.params) == 1:
        modes, params = mode_string(group, show_key=user in group.members or conn.oper is not None)
        conn.send(N.RPL_CHANNELMODEIS, user.name, group.name, modes, *params, source=server.name)
        conn.numeric(N.RPL_CREATIONTIME, group.name, str(int(group.created)))
        return
    requests, unknown = parse_channel_modes(msg.params[1], msg.params[2:])
    for letter in unknown:
        conn.numeric(N.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
    chanop: bool | None = None  # asked once, when needed: an oper's override is logged

    def may_change() -> bool:
        nonlocal chanop
        if chanop is None:
            chanop = conn.is_chanop(group)
        return chanop

    limits = server.config.limits
    changes: list[tuple[str, bool, Any]] = []
    with_params = 0
    adding = {letter: 0 for letter in LIST_MODES}  # entries this command adds, per list
    denied = False
    for req in requests:
        letter, param = req.letter, req.param
        if letter in LIST_MODES and param is None:
            if letter == "b" or may_change():  # anyone may see bans; e and I are for operators
                _send_list(conn, group, letter)
            else:
                denied = True
            continue
        if not may_change():
            denied = True
            continue
        if param is not None:
            if with_params >= limits.max_modes:
                continue  # MODES= says how many; the rest are ignored, as ircds do
            with_params += 1
        if letter in STATUS_MODES:
            target = server.realm.find_user(param)
            if target is None or not target.online:
                conn.numeric(N.ERR_NOSUCHNICK, param, "No such nick/channel")
            elif target not in group.members:
                conn.numeric(N.ERR_USERNOTINCHANNEL, target.name, group.name, "They aren't on that channel")
            else:
                changes.append((STATUS_MODES[letter], req.add, target))
        elif letter in LIST_MODES:
            mask = normalize_mask(param)
            if req.add and len(_entries(group, letter)) + adding[letter] >= limits.max_list_entries:
                conn.numeric(N.ERR_BANLISTFULL, group.name, mask, "Channel list is full")
            else:
                adding[letter] += req.add
                changes.append((LIST_MODES[letter], req.add, mask))
        elif letter in KEY_MODES:
            if req.add and (not param or len(param) > _MAX_KEY or any(c in param for c in " ,:")):
                conn.numeric(N.ERR_INVALIDKEY, group.name, "Key is not well-formed")
            else:
                changes.append(("key", req.add, param if req.add else None))
        elif letter in LIMIT_MODES:
            if req.add:
                if not param.isdecimal() or int(param) <= 0:
                    conn.numeric(N.ERR_INVALIDMODEPARAM, group.name, "l", param, "Invalid limit")
                else:
                    changes.append(("limit", True, int(param)))
            else:
                changes.append(("limit", False, None))
        else:
            changes.append((FLAG_MODES[letter], req.add, None))
    if denied:
        conn.numeric(N.ERR_CHANOPRIVSNEEDED, group.name, "You're not channel operator")
    if changes:
        server.realm.change_settings(group, changes, by=user)


def _user_mode(conn: IRCConnection, msg: Message) -> None:
    user = conn.user
    assert user is not None
    realm = conn.server.realm
    if realm.casefold(msg.params[0]) != user.folded:
        if realm.find_user(msg.params[0]) is None:
            conn.numeric(N.ERR_NOSUCHNICK, msg.params[0], "No such nick/channel")
        else:
            conn.numeric(N.ERR_USERSDONTMATCH, "Can't change mode for other users")
        return
    if len(msg.params) == 1:
        conn.numeric(N.RPL_UMODEIS, user_mode_string(user))
        return
    changes: list[tuple[str, bool]] = []
    unknown = False
    add = True
    for letter in msg.params[1]:
        if letter in "+-":
            add = letter == "+"
        elif letter not in USER_MODES:
            unknown = True
        elif letter == "o" and add:
            continue  # operator status comes from OPER only
        else:
            changes.append((USER_MODES[letter], add))
    if unknown:
        conn.numeric(N.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    if changes:
        done = realm.set_user_flags(user, changes)
        if ("operator", False) in done:
            conn.oper = None
