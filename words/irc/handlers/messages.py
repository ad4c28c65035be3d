"""Messages: PRIVMSG, NOTICE and TAGMSG, to channels and users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.commands import command
from words.irc.connection import ctcp_action
from words.realm.errors import CannotSpeak

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection


_STATUSMSG = {"@": "o", "+": "ov"}
_CANNOT_SEND = {
    "outside": "Cannot send to channel (no external messages)",
    "moderated": "Cannot send to channel (+m)",
    "banned": "Cannot send to channel (you are banned)",
}


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
    if kind != "tagmsg" and (len(msg.params) < 2 or not msg.params[1]):
        if errors:
            conn.numeric(N.ERR_NOTEXTTOSEND, "No text to send")
        return
    text = msg.params[1] if kind != "tagmsg" else ""
    # Tags over the client budget never get here: the line was refused whole (417).
    tags = client_tags(conn, msg)
    action_text = ctcp_action(text)
    action = action_text is not None
    if action:
        text = action_text
    if len(targets) > conn.server.config.limits.max_targets:
        if errors:
            conn.numeric(N.ERR_TOOMANYTARGETS, msg.params[0], "Too many targets")
        return
    realm = conn.server.realm
    echo = "echo-message" in conn.caps
    for name in targets:
        # STATUSMSG: "@#chan" reaches the channel's operators, "+#chan" voiced and up.
        to_status = _STATUSMSG.get(name[0], "") if len(name) > 1 and name[1] == "#" else ""
        channel = name[1:] if to_status else name
        if channel.startswith("#"):
            group = realm.find_group(channel)
            if group is None:
                if errors:
                    conn.numeric(N.ERR_NOSUCHCHANNEL, channel, "No such channel")
                continue
            try:
                realm.check_speak(user, group)
            except CannotSpeak as refused:
                why = _CANNOT_SEND[refused.reason]
                if not conn.overrides(group, f"{msg.command.upper()} past {why[len('Cannot send to channel '):]}"):
                    if errors:
                        conn.numeric(N.ERR_CANNOTSENDTOCHAN, group.name, why)
                    continue
            event = realm.say(user, group, text, kind=kind, action=action, to_status=to_status,
                              tags=tags)
            if echo:
                conn.receive(event)
        else:
            target = realm.find_user(name)
            if target is None or not target.online:
                if errors:
                    conn.numeric(N.ERR_NOSUCHNICK, name, "No such nick/channel")
                continue
            event = realm.say(user, target, text, kind=kind, action=action, tags=tags)
            if echo and target is not user:
                conn.receive(event)
            if errors and target.away is not None:
                conn.numeric(N.RPL_AWAY, target.name, target.away)


def client_tags(conn: IRCConnection, msg: Message) -> dict[str, str] | None:
    """The client-only tags (`+name`) of `msg` to relay, if the sender may send tags."""
    if not msg.tags or "message-tags" not in conn.caps:
        return None
    tags = {key: value for key, value in msg.tags.items() if key.startswith("+")}
    return tags or None


@command("TAGMSG", min_params=1)
def handle_tagmsg(conn: IRCConnection, msg: Message) -> None:
    if "message-tags" not in conn.caps:
        return  # TAGMSG exists only for clients that negotiated message-tags
    _deliver(conn, msg, "tagmsg")


@command("PRIVMSG")
def handle_privmsg(conn: IRCConnection, msg: Message) -> None:
    _deliver(conn, msg, "message")


@command("NOTICE")
def handle_notice(conn: IRCConnection, msg: Message) -> None:
    _deliver(conn, msg, "notice")
