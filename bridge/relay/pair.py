"""One relayed pair: an IRC channel and a MUC room, and what goes between them.

The IRC and XMPP sides call the `from_irc_*` and `from_xmpp_*` methods for
events of other people only (each side drops its own echoes first); a pair
formats and hands the text to the other side, which drops it (and logs) when
it is not in its channel or room at the moment: nothing is queued across an
outage, so a reconnection never floods a channel with stale lines.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bridge.relay.config import PairConfig
from bridge.relay.text import (
    action_body,
    clean_for_irc,
    clean_for_xmpp,
    irc_lines,
    render,
    shown_nick,
)

__all__ = ["IRCSide", "Pair", "XMPPSide"]

log = logging.getLogger("bridge.relay")


class IRCSide(Protocol):
    def relay_budget(self, channel: str, action: bool = False, notice: bool = False) -> int: ...
    def relay_lines(self, channel: str, lines: list[str], kind: str = "PRIVMSG") -> bool: ...
    def relay_topic(self, channel: str, topic: str) -> bool: ...


class XMPPSide(Protocol):
    def relay_message(self, room: str, body: str) -> bool: ...
    def relay_subject(self, room: str, subject: str) -> bool: ...


class Pair:
    def __init__(self, config: PairConfig, irc: IRCSide, xmpp: XMPPSide) -> None:
        self.config = config
        self.options = config.options
        self.channel = config.channel
        self.room = config.room
        self.irc = irc
        self.xmpp = xmpp

    def __repr__(self) -> str:
        return f"<Pair {self.config.irc}/{self.channel} <-> {self.config.xmpp}/{self.room}>"

    # -- IRC -> XMPP ----------------------------------------------------------------------

    def _to_xmpp(self, body: str) -> None:
        body = clean_for_xmpp(body)
        if body.strip():
            self.xmpp.relay_message(self.room, body)

    def from_irc_message(self, nick: str, text: str) -> None:
        self._to_xmpp(render(self.options.xmpp_message, nick, text))

    def from_irc_action(self, nick: str, text: str) -> None:
        self._to_xmpp(render(self.options.xmpp_action, nick, text))

    def from_irc_join(self, nick: str) -> None:
        if self.options.join_part:
            self._to_xmpp(f"* {nick} joined {self.channel}")

    def from_irc_part(self, nick: str, reason: str) -> None:
        if self.options.join_part:
            self._to_xmpp(f"* {nick} left {self.channel}" + (f" ({reason})" if reason else ""))

    def from_irc_quit(self, nick: str, reason: str) -> None:
        if self.options.join_part:
            self._to_xmpp(f"* {nick} quit IRC" + (f" ({reason})" if reason else ""))

    def from_irc_kick(self, nick: str, kicker: str, reason: str) -> None:
        if self.options.join_part:
            self._to_xmpp(f"* {nick} was kicked from {self.channel} by {kicker}"
                          + (f" ({reason})" if reason else ""))

    def from_irc_rename(self, old: str, new: str) -> None:
        if self.options.join_part:
            self._to_xmpp(f"* {old} is now known as {new}")

    def from_irc_topic(self, nick: str, topic: str) -> None:
        if self.options.topic_sync:
            self.xmpp.relay_subject(self.room, clean_for_xmpp(topic))

    # -- XMPP -> IRC ----------------------------------------------------------------------

    def _nick(self, nick: str) -> str:
        return shown_nick(nick, self.options.break_highlights)

    def _to_irc(self, fmt: str, nick: str, text: str, kind: str) -> None:
        budget = self.irc.relay_budget(self.channel, action=kind == "ACTION",
                                       notice=kind == "NOTICE")
        try:
            lines = irc_lines(fmt, self._nick(nick), text, budget, self.options.irc_max_lines)
        except ValueError as e:
            log.warning("%r: not relayed to IRC: %s", self, e)
            return
        if lines:
            self.irc.relay_lines(self.channel, lines, kind)

    def from_xmpp_message(self, nick: str, body: str) -> None:
        action = action_body(body)
        if action is not None:
            self._to_irc(self.options.irc_action, nick, action, "ACTION")
        else:
            self._to_irc(self.options.irc_message, nick, body, "PRIVMSG")

    def _notice(self, text: str) -> None:
        if self.options.join_part:
            self._to_irc("{text}", "", text, "NOTICE")

    def from_xmpp_join(self, nick: str) -> None:
        self._notice(f"* {self._nick(nick)} joined {self.room}")

    def from_xmpp_leave(self, nick: str, status: str) -> None:
        self._notice(f"* {self._nick(nick)} left {self.room}" + (f" ({status})" if status else ""))

    def from_xmpp_kick(self, nick: str, reason: str) -> None:
        self._notice(f"* {self._nick(nick)} was kicked from {self.room}"
                     + (f" ({reason})" if reason else ""))

    def from_xmpp_rename(self, old: str, new: str) -> None:
        self._notice(f"* {self._nick(old)} is now known as {self._nick(new)}")

    def from_xmpp_subject(self, nick: str, subject: str) -> None:
        if self.options.topic_sync:
            # A topic is one line: the subject's line ends become spaces.
            topic = " ".join(clean_for_irc(subject).splitlines()).strip()
            self.irc.relay_topic(self.channel, topic)
