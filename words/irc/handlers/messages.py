"""Messages: PRIVMSG and NOTICE, to channels and users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.commands import command
from words.irc.connection import ctcp_action

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection


def _deliver(conn: IRCConnection, msg: Message, kind: str) -> None:
    # NOTICE never triggers an automatic reply, errors included.
    errors = kind == "message"
    user = conn.user
    assert user is not None
    # Empty names (",bob," from sloppy clients) are skipped, as JOIN and PART do.
    targets = [name for name in msg.params[0].split(",") if name] if msg.params else []
    if not targets:
        if errors:
            conn.numeric(N.ERR_NORECIPIENT, f"No recipient given ({msg.command.upper()})")
        return
    if len(msg.params) < 2 or not msg.params[1]:
        if errors:
            conn.numeric(N.ERR_NOTEXTTOSEND, "No text to send")
        return
    text = msg.params[1]
    action_text = ctcp_action(text)
    action = action_text is not None
    if action:
        text = action_text
    if len(targets) > conn.server.config.limits.max_targets:
        if errors:
            conn.numeric(N.ERR_TOOMANYTARGETS, msg.params[0], "Too many targets")
        return
    realm = conn.server.realm
    for name in targets:
        if name.startswith("#"):
            group = realm.find_group(name)
            if group is None:
                if errors:
                    conn.numeric(N.ERR_NOSUCHCHANNEL, name, "No such channel")
                continue
            if user not in group.members:  # +n
                if errors:
                    conn.numeric(N.ERR_CANNOTSENDTOCHAN, group.name, "Cannot send to channel")
                continue
            realm.say(user, group, text, kind=kind, action=action)
        else:
            target = realm.find_user(name)
            if target is None or not target.online:
                if errors:
                    conn.numeric(N.ERR_NOSUCHNICK, name, "No such nick/channel")
                continue
            realm.say(user, target, text, kind=kind, action=action)


@command("PRIVMSG")
def handle_privmsg(conn: IRCConnection, msg: Message) -> None:
    _deliver(conn, msg, "message")


@command("NOTICE")
def handle_notice(conn: IRCConnection, msg: Message) -> None:
    _deliver(conn, msg, "notice")
