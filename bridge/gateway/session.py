"""One XMPP user under one nick: the realm's mind, turning events into stanzas.

An XMPP user who joins rooms with one nick is one realm user (IRC sees one
nick in each channel); a user joining with another nick is a second realm
user, as a second IRC connection would be. Each room remembers the XMPP
resources (full JIDs) joined to it, with the room JID each one used, and the
occupants those clients were told about, so a restored link can bring them
up to date.

Room JIDs follow the client: IRC casemapping makes `#a[b]` and `#a{b}` one
channel, while XMPP sees two JIDs, so each client hears about the room from
the room JID it joined (`Room.resources`), never from another spelling.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bridge.gateway import stanzas as S
from bridge.gateway.text import is_ctcp, strip_irc, xml_safe
from words.realm import Group, User

if TYPE_CHECKING:
    from bridge.gateway.gateway import Gateway
    from words.realm import ChatAvatar
    from words.realm.events import (
        AccountChanged,
        AwayChanged,
        Invited,
        Joined,
        Kicked,
        Left,
        MetaChanged,
        Quit,
        RealnameChanged,
        Renamed,
        Said,
        SettingsChanged,
        UserFlagsChanged,
        Wallops,
    )

log = logging.getLogger("bridge.gateway")


@dataclass(eq=False)
class Room:
    """What one session's clients know of one room."""

    group: Group
    # Full JIDs joined -> the bare room JID each joined (see the module docstring).
    resources: dict[str, str] = field(default_factory=dict)
    # Occupants the clients were shown, under the nick they were shown.
    announced: dict[User, str] = field(default_factory=dict)
    orphaned: asyncio.TimerHandle | None = None  # no resource left: parts when it fires

    def occupant(self, resource: str, nick: str) -> str:
        """The occupant JID of `nick` as the client `resource` addresses the room."""
        return f"{self.resources[resource]}/{nick}"


@dataclass(eq=False)
class Batch:
    """An XMPP message being said on IRC line by line: XMPP minds send it whole, once."""

    sender: User
    body: str
    told: set[XMPPSession] = field(default_factory=set)


class XMPPSession:
    """The mind of one XMPP user (bare JID) under one nick."""

    def __init__(self, gateway: Gateway, jid: str, avatar: ChatAvatar) -> None:
        self.gateway = gateway
        self.jid = jid  # bare
        self.avatar = avatar
        self.user: User | None = None
        self.rooms: dict[str, Room] = {}  # folded group name -> Room
        self.closed = False
        # Input pacing, as IRC clients have it: limits.flood_burst lines, then flood_rate a second.
        self._tokens = float(gateway.config.limits.flood_burst)
        self._token_time = time.monotonic()

    def pace(self, lines: int) -> bool:
        """May this user send `lines` IRC lines now? A long message may run into debt,
        which later messages wait out (they are refused until the bucket refills)."""
        limits = self.gateway.config.limits
        now = time.monotonic()
        self._tokens = min(float(limits.flood_burst),
                           self._tokens + (now - self._token_time) * limits.flood_rate)
        self._token_time = now
        if self._tokens < 1.0:
            return False
        self._tokens -= lines
        return True

    def __repr__(self) -> str:
        name = self.user.name if self.user is not None else "?"
        return f"<XMPPSession {self.jid} as {name}>"

    # -- helpers ---------------------------------------------------------------------

    def occupant_presence(self, room: Room, member: User, *, codes: tuple[str, ...] = (),
                          ptype: str | None = None, nick: str | None = None,
                          name: str | None = None, reason: str | None = None,
                          actor: str | None = None, status: str | None = None,
                          to: set[str] | None = None) -> None:
        """Send `member`'s presence in `room` to this session's clients (or `to`)."""
        gw = self.gateway
        if gw.xmpp is None:
            return
        group = room.group
        if ptype == "unavailable":
            affiliation, role = gw.affiliation(group, member), "none"
        else:
            affiliation, role = gw.affiliation(group, member), gw.role(group, member)
        shown = name or member.name
        # Semi-anonymous rooms: moderators see who is who (an IRC user as nick@component).
        jid = self.real_jid(member) if self.is_moderator(group) else None
        for resource in sorted(to if to is not None else room.resources):
            stanza = S.presence(gw.xmpp, room.occupant(resource, shown), resource, ptype)
            if ptype is None and member.away is not None:
                stanza["show"] = "away"
                stanza["status"] = strip_irc(member.away)
            elif status:
                stanza["status"] = strip_irc(status)
            stanza.xml.append(S.muc_user_x(affiliation, role, codes, nick=nick, actor=actor,
                                           reason=strip_irc(reason) if reason else None,
                                           jid=jid))
            stanza.send()

    def is_moderator(self, group: Group) -> bool:
        return self.user is not None and "o" in group.members.get(self.user, "")

    def real_jid(self, member: User) -> str:
        mind = member.mind
        if isinstance(mind, XMPPSession):
            return mind.jid
        return self.gateway.user_jid(member.name)

    def self_codes(self, member: User) -> tuple[str, ...]:
        return (S.SELF,) if member is self.user else ()

    def send_join(self, room: Room, resource: str, *, renamed: bool) -> None:
        """The join sequence for one client: occupants, itself (110, 210), then history and subject
        follow from the gateway (they may need the store)."""
        assert self.user is not None
        group = room.group
        for member in list(group.members):
            if member is not self.user:
                self.occupant_presence(room, member, to={resource})
        codes = (S.SELF, S.NICK_CHANGED) if renamed else (S.SELF,)
        self.occupant_presence(room, self.user, codes=codes, to={resource})
        room.announced = {member: member.name for member in group.members}

    def restore(self, room: Room) -> None:
        """After the link came back: tell the clients who left meanwhile, and who is there."""
        group = room.group
        current = set(group.members)
        for gone in set(room.announced) - current:
            self.occupant_presence(room, gone, ptype="unavailable", name=room.announced[gone])
        for member in current:
            shown = room.announced.get(member)
            codes = self.self_codes(member)
            if shown is not None and shown != member.name:  # renamed meanwhile
                self.occupant_presence(room, member, ptype="unavailable", name=shown,
                                       nick=member.name, codes=(S.NEW_NICK, *codes))
            self.occupant_presence(room, member, codes=codes)
        room.announced = {member: member.name for member in current}
        self.gateway.send_subject(room, room.resources)

    def forget_room(self, folded: str) -> None:
        room = self.rooms.pop(folded, None)
        if room is not None and room.orphaned is not None:
            room.orphaned.cancel()
        if not self.rooms and not self.closed:
            # No room left: the user leaves IRC too (after the event being delivered),
            # unless a join came in meanwhile.
            asyncio.get_running_loop().call_soon(self._end_if_idle)

    def _end_if_idle(self) -> None:
        if not self.rooms:
            self.gateway.end_session(self, "Left all rooms")

    # -- the realm's mind (ChatClient) ------------------------------------------------------

    def receive(self, event: Said) -> None:
        gw = self.gateway
        if gw.xmpp is None or event.kind == "tagmsg":
            return
        if not event.action and is_ctcp(event.text):
            return  # CTCP requests (VERSION, PING...) are for IRC clients to answer
        body = gw.body_for_xmpp(event)
        target = event.target
        if isinstance(target, Group):
            room = self.rooms.get(target.folded)
            if room is None:
                return
            batch = gw.batch
            if batch is not None and batch.sender is event.sender:
                if self in batch.told:
                    return  # the rest of a message already sent whole
                batch.told.add(self)
                body = batch.body
            gw.remember(event.msgid, event.sender.name, event.text)
            for resource in sorted(room.resources):
                stanza = S.message(gw.xmpp, room.occupant(resource, event.sender.name), resource,
                                   "groupchat", body, event.msgid)
                stanza.xml.append(S.stanza_id(event.msgid, room.resources[resource]))
                stanza.send()
        else:
            stanza = S.message(gw.xmpp, gw.contact_jid(self.jid, event.sender), self.jid, "chat",
                               body, event.msgid)
            stanza.send()

    def user_joined(self, event: Joined) -> None:
        room = self.rooms.get(event.group.folded)
        if room is None or event.user is self.user or self.gateway.xmpp is None:
            return
        room.announced[event.user] = event.user.name
        self.occupant_presence(room, event.user)

    def user_left(self, event: Left) -> None:
        self._gone(event.group, event.user, status=event.reason or None)

    def user_kicked(self, event: Kicked) -> None:
        actor = event.by.name if event.by is not None else None
        self._gone(event.group, event.user, codes=(S.KICKED,), actor=actor,
                   reason=event.reason or None)

    def _gone(self, group: Group, user: User, **details) -> None:
        room = self.rooms.get(group.folded)
        if room is None:
            return
        codes = details.pop("codes", ()) + self.self_codes(user)
        # While the link is down nothing is sent, so the clients' picture stays as it
        # was: restore() tells them what changed.
        online = self.gateway.xmpp is not None
        if online and (user in room.announced or user is self.user):
            self.occupant_presence(room, user, ptype="unavailable", codes=codes, **details)
            room.announced.pop(user, None)
        if user is self.user:
            self.forget_room(group.folded)

    def user_quit(self, event: Quit) -> None:
        if self.gateway.xmpp is None:
            return  # restore() tells the clients
        for room in self.rooms.values():
            if event.user in room.announced:
                self.occupant_presence(room, event.user, ptype="unavailable", status=event.reason,
                                       name=room.announced.pop(event.user))

    def user_renamed(self, event: Renamed) -> None:
        user = event.user
        if self.gateway.xmpp is None:
            return  # restore() tells the clients
        for room in self.rooms.values():
            if user not in room.announced and user is not self.user:
                continue
            codes = self.self_codes(user)
            self.occupant_presence(room, user, ptype="unavailable", name=event.old_name,
                                   nick=event.new_name, codes=(S.NEW_NICK, *codes))
            self.occupant_presence(room, user, codes=codes)
            room.announced[user] = user.name

    def group_meta_update(self, event: MetaChanged) -> None:
        room = self.rooms.get(event.group.folded)
        if room is not None and "topic" in event.changes:
            self.gateway.send_subject(room, room.resources, by=event.by)

    def group_settings_changed(self, event: SettingsChanged) -> None:
        room = self.rooms.get(event.group.folded)
        if room is None:
            return
        changed: list[User] = []
        for name, _add, value in event.changes:
            if name in ("op", "voice") and isinstance(value, User) and value not in changed:
                changed.append(value)
            elif name == "moderated":  # every plain member's role changed
                changed.extend(m for m, status in event.group.members.items()
                               if not status and m not in changed)
        if self.user in changed and self.gateway.xmpp is not None:
            # Our own role changed: moderators see real JIDs, so everyone is shown again.
            changed = list(event.group.members)
        for member in changed:
            if member in room.announced or member is self.user:
                self.occupant_presence(room, member, codes=self.self_codes(member))

    def user_invited(self, event: Invited) -> None:
        gw = self.gateway
        if event.user is not self.user or gw.xmpp is None or xml_safe(event.group.name) != event.group.name:
            return
        stanza = S.message(gw.xmpp, gw.room_jid(event.group), self.jid, "normal")
        invite = S.el(f"{{{S.MUC_USER}}}invite", {"from": gw.user_jid(event.by.name)})
        stanza.xml.append(S.el(f"{{{S.MUC_USER}}}x", children=[invite]))
        stanza.send()

    def user_away_changed(self, event: AwayChanged) -> None:
        for room in self.rooms.values():
            if event.user in room.announced:
                self.occupant_presence(room, event.user, codes=self.self_codes(event.user))

    # What XMPP has no place for: user modes, wallops, accounts, real names.
    def user_flags_changed(self, event: UserFlagsChanged) -> None:
        pass

    def wallops(self, event: Wallops) -> None:
        pass

    def account_changed(self, event: AccountChanged) -> None:
        pass

    def user_realname_changed(self, event: RealnameChanged) -> None:
        pass

    def close(self, reason: str) -> None:
        """End this session from the realm's side (a KILL, services): the clients are told."""
        self.gateway.end_session(self, reason, tell=True)
