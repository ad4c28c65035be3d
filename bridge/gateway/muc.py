"""XEP-0045 from the XMPP side: joins, leaves, nick changes, messages, moderation.

Every refusal is a stanza error with a text, never silence: a ban is
`forbidden`, +i `registration-required`, +k `not-authorized`, +l
`service-unavailable`; a message that may not be sent is `forbidden`
(moderated, banned) or `not-acceptable` (not in the room).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bridge.gateway import stanzas as S
from bridge.gateway.addresses import irc_nick, nick_candidates, unescape_node
from bridge.gateway.history import send_history, wanted
from bridge.gateway.rich import degrade
from bridge.gateway.session import Batch, Room, XMPPSession
from bridge.gateway.text import irc_lines, one_line, xmpp_to_irc
from words.irc.handlers.channels import valid_channel_name
from words.realm import DuplicateUser
from words.realm.errors import (
    BadKey,
    Banned,
    CannotSpeak,
    GroupFull,
    InviteOnly,
    JoinRefused,
    NeedAccount,
)

if TYPE_CHECKING:
    from bridge.gateway.gateway import Gateway
    from words.realm import Group, User

log = logging.getLogger("bridge.gateway")

# One XMPP message becomes at most this many IRC lines; a longer one is refused.
MAX_LINES = 30
# Each nick of a JID is an IRC user: one JID may not fill the network with them.
MAX_NICKS_PER_JID = 5

JOIN_REFUSALS: dict[type, tuple[str, str, str]] = {
    Banned: ("forbidden", "auth", "You are banned from this channel (+b)"),
    InviteOnly: ("registration-required", "auth", "This channel is invite-only (+i)"),
    BadKey: ("not-authorized", "auth", "This channel needs the right password (+k)"),
    GroupFull: ("service-unavailable", "wait", "This channel is full (+l)"),
    NeedAccount: ("registration-required", "auth",
                  "Only users logged in to an account may join (+r)"),
}
SPEAK_REFUSALS = {
    "outside": ("not-acceptable", "cancel", "You are not in this room"),
    "moderated": ("forbidden", "auth", "This room is moderated (+m): you need voice to speak"),
    "banned": ("forbidden", "auth", "You are banned from this channel (+b)"),
}


def find(stanza: Any, path: str) -> Any:
    return stanza.xml.find(path)


class Muc:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    @property
    def limits(self):
        return self.gw.config.limits

    # -- addressing -----------------------------------------------------------------------

    def channel_of(self, jid: Any) -> str | None:
        """The channel name a JID of ours addresses, or None (the component, a user)."""
        name = unescape_node(jid.node) if jid.node else ""
        return name if name.startswith("#") else None

    def error(self, stanza: Any, condition: str, etype: str, text: str) -> None:
        """Answer `stanza` with an error (from what it was sent to), keeping its payload."""
        reply = stanza.reply(clear=False)
        x = reply.xml.find(f"{{{S.MUC}}}x")
        if x is not None:  # never echo a room password back
            for password in x.findall(f"{{{S.MUC}}}password"):
                x.remove(password)
        S.set_error(reply, condition, etype, text)
        reply.send()

    # -- presence ---------------------------------------------------------------------------

    def on_presence(self, pres: Any) -> None:
        ptype = pres["type"]
        if ptype in ("subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe"):
            return  # the gateway keeps no roster; rooms are reached by directed presence
        channel = self.channel_of(pres["to"])
        if channel is None:
            return
        self.gw.spawn(self._presence(pres, channel, ptype))

    async def _presence(self, pres: Any, channel: str, ptype: str) -> None:
        sender = pres["from"]
        async with self.gw.lock(sender.bare):
            try:
                await self._presence_locked(pres, channel, ptype)
            except Exception:  # a store that is down, a bug: the client hears of it
                log.exception("XMPP: failed on a presence from %s", sender)
                if ptype not in ("unavailable", "error"):
                    self.error(pres, "internal-server-error", "wait",
                               "The gateway failed on this presence; try again")

    async def _presence_locked(self, pres: Any, channel: str, ptype: str) -> None:
        sender = pres["from"]
        if ptype in ("unavailable", "error"):
            self._leave(pres, channel, lost=ptype == "error"
                        or pres["status"].startswith("Disconnected:"))
            return
        nick = pres["to"].resource
        if not nick:
            self.error(pres, "jid-malformed", "modify", "Join with a nick: room@service/nick")
            return
        session = self.gw.session_in(sender.bare, self.gw.realm.casefold(channel))
        if session is not None:
            room = session.rooms[self.gw.realm.casefold(channel)]
            if sender.full in room.resources:
                joined = room.resources[sender.full]
                if joined != pres["to"].bare:
                    # The same channel by IRC casemapping, another room to the client.
                    self.error(pres, "conflict", "cancel",
                               f"You are in this channel already, as {joined}")
                    return
                self._update(pres, session, room, nick)
                return
        await self._join(pres, channel, nick, session)

    def _update(self, pres: Any, session: XMPPSession, room: Room, nick: str) -> None:
        """A joined client's presence: a nick change, or away/back."""
        user = session.user
        assert user is not None
        realm = self.gw.realm
        wanted = irc_nick(nick, self.limits.nicklen)
        if realm.casefold(wanted) != user.folded or wanted != user.name:
            try:
                realm.rename(user, wanted)  # user_renamed sends 303 to every room
            except DuplicateUser:
                self.error(pres, "conflict", "cancel", f"The nick {wanted} is in use")
            return
        away = pres["show"] in ("away", "xa", "dnd")
        message = one_line(pres["status"] or pres["show"], self.limits.awaylen) if away else None
        if message != user.away:
            realm.set_away(user, message)

    async def _join(self, pres: Any, channel: str, nick: str, session: XMPPSession | None) -> None:
        gw, realm = self.gw, self.gw.realm
        sender = pres["from"]
        if not valid_channel_name(channel, self.limits.channellen):
            self.error(pres, "item-not-found", "cancel", f"{channel} is not a valid channel name")
            return
        x = find(pres, f"{{{S.MUC}}}x")
        password = x.findtext(f"{{{S.MUC}}}password") if x is not None else None
        history = x.find(f"{{{S.MUC}}}history") if x is not None else None
        wanted = irc_nick(nick, self.limits.nicklen)
        created = False
        renamed = wanted != nick
        if session is None:
            session = gw.session_named(sender.bare, wanted)
        if session is None and len(gw.sessions.get(sender.bare, ())) >= MAX_NICKS_PER_JID:
            self.error(pres, "not-allowed", "cancel",
                       f"You already use {MAX_NICKS_PER_JID} nicks here: join with one of them")
            return
        if session is None:
            session = await gw.identity.sign_in(pres, sender.bare)
            if session is None:
                return
            created = True
            for candidate in nick_candidates(wanted, self.limits.nicklen):
                try:
                    session.avatar.sign_on(
                        candidate, account=session.avatar.account or None,
                        username=gw.identity.username(sender), host=sender.domain,
                        realname=f"XMPP user via {gw.domain}",
                    )
                except DuplicateUser:
                    continue
                renamed = renamed or candidate != nick
                break
            else:
                self.error(pres, "conflict", "cancel", f"The nick {wanted} is in use")
                return
            session.user = session.avatar.user
            gw.add_session(session)
        user = session.user
        assert user is not None
        folded = realm.casefold(channel)
        room = session.rooms.get(folded)
        if room is not None:  # another client of the same user joins the same room
            if room.orphaned is not None:
                room.orphaned.cancel()
                room.orphaned = None
            room.resources[sender.full] = pres["to"].bare
            session.send_join(room, sender.full, renamed=user.name != nick)
            await self._after_join(room, sender.full, history)
            return
        refusal = self._check_join(user, channel, password)
        if refusal is not None:
            self.error(pres, *refusal)
            if created or not session.rooms:
                gw.end_session(session, "Join refused")
            return
        group = realm.get_group(channel)
        room = session.rooms[folded] = Room(group, {sender.full: pres["to"].bare})
        realm.join(user, group)
        session.send_join(room, sender.full, renamed=renamed or user.name != nick)
        await self._after_join(room, sender.full, history)

    def _check_join(self, user: User, channel: str, password: str | None
                    ) -> tuple[str, str, str] | None:
        realm = self.gw.realm
        if len(user.groups) >= self.limits.max_channels_per_user:
            return ("not-allowed", "cancel", "You have joined too many channels")
        group = realm.find_group(channel)
        if group is None:
            if not realm.create_group_on_request:
                return ("item-not-found", "cancel", f"No such channel {channel}")
            return None
        if group.members:
            try:
                realm.check_join(user, group, password)
            except JoinRefused as refused:
                return JOIN_REFUSALS[type(refused)]
        return None

    async def _after_join(self, room: Room, resource: str, history: Any) -> None:
        """Recent history (with <delay>, as the client's <history/> asks), then the subject."""
        await send_history(self.gw, room, resource, wanted(history, self.gw.xmpp_config.history))
        self.gw.send_subject(room, {resource})

    def _leave(self, pres: Any, channel: str, *, lost: bool) -> None:
        gw = self.gw
        sender = pres["from"]
        folded = gw.realm.casefold(channel)
        session = gw.session_in(sender.bare, folded)
        if session is None:
            return
        room = session.rooms[folded]
        if room.resources.get(sender.full) != pres["to"].bare:
            return  # not joined, or joined under another spelling (see _presence_locked)
        if lost:
            # The XMPP server says the client's connection was lost: it may be back soon.
            gw.drop_resource(session, room, sender.full,
                             one_line(pres["status"], self.limits.kicklen) or "Connection lost")
            return
        assert session.user is not None
        session.occupant_presence(room, session.user, ptype="unavailable", codes=(S.SELF,),
                                  to={sender.full})
        room.resources.pop(sender.full, None)
        if not room.resources:
            if session.user in room.group.members:
                gw.realm.leave(session.user, room.group, one_line(pres["status"], self.limits.kicklen))
            else:
                session.forget_room(folded)

    # -- messages ------------------------------------------------------------------------------

    def on_message(self, msg: Any) -> None:
        mtype = msg["type"]
        if mtype == "error":
            self._bounced(msg)
            return
        to = msg["to"]
        channel = self.channel_of(to)
        try:
            if channel is not None and mtype == "groupchat" and not to.resource:
                self._groupchat(msg, channel)
            elif channel is not None and not to.resource and find(
                    msg, f"{{{S.MUC_USER}}}x/{{{S.MUC_USER}}}invite") is not None:
                self._invite(msg, channel)
            elif channel is not None and to.resource:
                self._private(msg, to.resource, channel)
            elif channel is None and to.node:
                self._private(msg, unescape_node(to.node), None)
            elif msg["body"]:
                self.error(msg, "service-unavailable", "cancel",
                           f"Send messages to #channel@{self.gw.domain} or nick@{self.gw.domain}")
        except Exception:
            log.exception("XMPP: failed on a message from %s", msg["from"])
            self.error(msg, "internal-server-error", "wait", "The gateway failed on this message")

    def _bounced(self, msg: Any) -> None:
        """An error back from a client we sent to: it is gone (or never was) for its rooms."""
        sender = msg["from"]
        for session in list(self.gw.sessions.get(sender.bare, ())):
            for room in list(session.rooms.values()):
                if sender.full in room.resources:
                    self.gw.drop_resource(session, room, sender.full, "Connection lost")

    def _occupant(self, msg: Any, channel: str) -> tuple[XMPPSession, Room] | None:
        sender = msg["from"]
        folded = self.gw.realm.casefold(channel)
        session = self.gw.session_in(sender.bare, folded)
        if session is None or sender.full not in session.rooms[folded].resources:
            return None
        return session, session.rooms[folded]

    def _groupchat(self, msg: Any, channel: str) -> None:
        gw, realm = self.gw, self.gw.realm
        occupant = self._occupant(msg, channel)
        if occupant is None:
            self.error(msg, "not-acceptable", "cancel", f"You are not in {channel}")
            return
        session, room = occupant
        user, group = session.user, room.group
        assert user is not None
        body = msg["body"]
        subject = find(msg, f"{{{msg.namespace}}}subject")
        if subject is not None and not body:
            self._set_topic(msg, user, group, subject.text or "")
            return
        text, action = degrade(gw, msg, body)
        if text is None:
            return  # nothing to say: a chat state, a receipt, a marker
        try:
            realm.check_speak(user, group)
        except CannotSpeak as refused:
            self.error(msg, *SPEAK_REFUSALS[refused.reason])
            return
        lines = irc_lines(xmpp_to_irc(text, gw.xmpp_config.formatting), user.name,
                          f"{user.username}@{user.host}", "PRIVMSG", group.name,
                          overhead=9 if action else 0)
        if not self._paced(msg, session, lines):
            return
        first = None
        # Other XMPP occupants get the message whole, once, not line by line.
        gw.batch = Batch(user, f"/me {text}" if action else text)
        try:
            for line in lines:
                event = realm.say(user, group, line, action=action)
                first = first or event.msgid
        finally:
            gw.batch = None
        # Reflected to the sender's clients with the id they gave it (XEP-0045).
        msgid = msg["id"] or first
        gw.remember(msgid, user.name, text)
        if gw.xmpp is None:
            return
        for resource in sorted(room.resources):
            echo = S.message(gw.xmpp, room.occupant(resource, user.name), resource, "groupchat",
                             body, msgid)
            if first:
                echo.xml.append(S.stanza_id(first, room.resources[resource]))
            echo.send()

    def _paced(self, msg: Any, session: XMPPSession, lines: list[str]) -> bool:
        """Refuse (with the reason) a message too long for IRC, or sent too fast."""
        if len(lines) > MAX_LINES:
            self.error(msg, "not-acceptable", "modify",
                       f"Too long for IRC: {len(lines)} lines (at most {MAX_LINES})")
            return False
        if not session.pace(len(lines)):
            self.error(msg, "resource-constraint", "wait",
                       "You are sending too fast for IRC; wait a moment")
            return False
        return True

    def _invite(self, msg: Any, channel: str) -> None:
        """A mediated invitation (XEP-0045 7.8.2) to `nick@component`: an IRC INVITE."""
        occupant = self._occupant(msg, channel)
        if occupant is None:
            self.error(msg, "not-acceptable", "cancel", f"You are not in {channel}")
            return
        session, room = occupant
        group, user = room.group, session.user
        for invite in msg.xml.iterfind(f"{{{S.MUC_USER}}}x/{{{S.MUC_USER}}}invite"):
            target = self._user_of_jid(invite.get("to") or "", None)
            if target is None or not target.online:
                self.error(msg, "item-not-found", "cancel",
                           f"No such user here: {invite.get('to')} (invite nick@{self.gw.domain})")
                return
            if target in group.members:
                self.error(msg, "conflict", "cancel", f"{target.name} is already in {group.name}")
                return
            if group.settings.invite_only and "o" not in group.members.get(user, ""):
                self.error(msg, "forbidden", "auth",
                           "Only channel operators may invite to an invite-only channel (+i)")
                return
            self.gw.realm.invite(group, target, user)

    def _set_topic(self, msg: Any, user: User, group: Group, topic: str) -> None:
        if group.settings.topic_locked and "o" not in group.members.get(user, ""):
            self.error(msg, "forbidden", "auth",
                       "Only channel operators may change the subject (+t)")
            return
        self.gw.realm.set_topic(group, one_line(xmpp_to_irc(topic, self.gw.xmpp_config.formatting),
                                               self.limits.topiclen), by=user)

    def _private(self, msg: Any, nick: str, channel: str | None) -> None:
        """A private message to `room/nick` or `nick@component`: an IRC PRIVMSG."""
        gw, realm = self.gw, self.gw.realm
        sender = msg["from"]
        if channel is not None:
            occupant = self._occupant(msg, channel)
            session = occupant[0] if occupant else None
        else:
            sessions = gw.sessions.get(sender.bare, [])
            session = sessions[0] if sessions else None
        if session is None or session.user is None:
            if msg["body"]:
                self.error(msg, "not-acceptable", "cancel",
                           f"Join a room on {gw.domain} first: private messages go out "
                           "under your nick there")
            return
        text, action = degrade(gw, msg, msg["body"])
        if text is None:
            return
        target = realm.find_user(nick)
        if target is None or not target.online:
            self.error(msg, "item-not-found", "cancel", f"No such nick: {nick}")
            return
        user = session.user
        lines = irc_lines(xmpp_to_irc(text, gw.xmpp_config.formatting), user.name,
                          f"{user.username}@{user.host}", "PRIVMSG", target.name,
                          overhead=9 if action else 0)
        if not self._paced(msg, session, lines):
            return
        if channel is None:  # replies come from the JID as this client spelled it
            gw.note_contact(sender.bare, target, msg["to"].bare)
        for line in lines:
            realm.say(user, target, line, action=action)

    # -- moderation (muc#admin) and configuration (muc#owner) ---------------------------------

    def _moderator(self, iq: Any) -> tuple[XMPPSession, Room] | None:
        channel = self.channel_of(iq["to"])
        occupant = self._occupant(iq, channel) if channel else None
        if occupant is None:
            self.error(iq, "not-acceptable", "cancel", "You are not in this room")
            return None
        session, room = occupant
        if "o" not in room.group.members.get(session.user, ""):
            self.error(iq, "forbidden", "auth", "You're not channel operator")
            return None
        return occupant

    def on_admin(self, iq: Any) -> None:
        if iq["type"] == "get":
            self._admin_list(iq)
            return
        occupant = self._moderator(iq)
        if occupant is None:
            return
        session, room = occupant
        realm, group, by = self.gw.realm, room.group, session.user
        query = find(iq, f"{{{S.MUC_ADMIN}}}query")
        for item in query.findall(f"{{{S.MUC_ADMIN}}}item"):
            reason = one_line(item.findtext(f"{{{S.MUC_ADMIN}}}reason") or "", self.limits.kicklen)
            nick, jid = item.get("nick"), item.get("jid")
            target = realm.find_user(nick) if nick else None
            if nick and (target is None or target not in group.members):
                self.error(iq, "item-not-found", "cancel", f"{nick} is not in {group.name}")
                return
            if target is None and jid:
                target = self._user_of_jid(jid, group)
            role, affiliation = item.get("role"), item.get("affiliation")
            if role == "none" and target is not None:
                realm.kick(group, target, by, reason)
            elif role == "moderator" and target is not None:
                realm.change_settings(group, [("op", True, target)], by)
            elif role == "participant" and target is not None:
                realm.change_settings(group, [("op", False, target), ("voice", True, target)], by)
            elif role == "visitor" and target is not None:
                realm.change_settings(group, [("op", False, target), ("voice", False, target)], by)
            elif affiliation == "outcast":
                mask = self._mask(target, jid)
                if mask is None:
                    self.error(iq, "bad-request", "modify", "Give a nick or a JID to ban")
                    return
                realm.change_settings(group, [("ban", True, mask)], by)
                if target is not None:
                    realm.kick(group, target, by, reason or "Banned")
            elif affiliation == "none" and jid:
                realm.change_settings(group, [("ban", False, self._mask(None, jid))], by)
            elif affiliation in ("owner", "admin", "member") and target is not None:
                letter = "voice" if affiliation == "member" else "op"
                realm.change_settings(group, [(letter, True, target)], by)
            else:
                self.error(iq, "bad-request", "modify", "Unsupported role or affiliation change")
                return
        iq.reply().send()

    def _user_of_jid(self, jid: str, group: Group | None) -> User | None:
        """The user a JID names (a member of `group`, if given): `nick@component` for any
        user, else an XMPP user's own JID."""
        bare = jid.split("/", 1)[0].lower()
        local, _, domain = bare.rpartition("@")
        if domain == self.gw.domain:
            user = self.gw.realm.find_user(unescape_node(local))
            return user if group is None or user in group.members else None
        for session in self.gw.sessions.get(bare, ()):
            if group is None or session.user in group.members:
                return session.user
        return None

    def _admin_list(self, iq: Any) -> None:
        """The outcast list: the channel's bans that are JIDs (`*!local@domain`, `*!*@domain`)."""
        occupant = self._moderator(iq)
        if occupant is None:
            return
        query = find(iq, f"{{{S.MUC_ADMIN}}}query")
        wanted = {item.get("affiliation") for item in query.findall(f"{{{S.MUC_ADMIN}}}item")}
        if wanted != {"outcast"}:
            self.error(iq, "feature-not-implemented", "cancel",
                       "Only the outcast list is kept here; operators and voices are IRC modes")
            return
        items = []
        for entry in occupant[1].group.settings.bans.values():
            jid = _mask_jid(entry.mask)
            if jid is not None:
                items.append(S.el(f"{{{S.MUC_ADMIN}}}item", {"affiliation": "outcast", "jid": jid}))
        reply = iq.reply()
        reply.xml.append(S.el(f"{{{S.MUC_ADMIN}}}query", children=items))
        reply.send()

    def _mask(self, target: User | None, jid: str | None) -> str | None:
        """The ban mask for an occupant (its JID's user@domain for XMPP users) or a JID."""
        if target is not None:
            if isinstance(target.mind, XMPPSession):
                return f"*!{target.username}@{target.host}"
            return f"*!*@{target.host}"
        if jid:
            local, sep, domain = jid.split("/", 1)[0].rpartition("@")
            return f"*!{self.gw.identity.ident(local) if sep else '*'}@{domain}"
        return None

    def on_owner(self, iq: Any) -> None:
        """Room configuration: only the password (the channel key) is settable here."""
        occupant = self._moderator(iq)
        if occupant is None:
            return
        _session, room = occupant
        group = room.group
        if iq["type"] == "get":
            reply = iq.reply()
            form = S.el(f"{{{S.DATA_FORMS}}}x", {"type": "form"}, children=[
                S.el(f"{{{S.DATA_FORMS}}}field", {"var": "FORM_TYPE", "type": "hidden"},
                     children=[S.el(f"{{{S.DATA_FORMS}}}value",
                                    text="http://jabber.org/protocol/muc#roomconfig")]),
                S.el(f"{{{S.DATA_FORMS}}}field",
                     {"var": "muc#roomconfig_roomsecret", "type": "text-private",
                      "label": "Password (the IRC channel key, +k)"},
                     children=[S.el(f"{{{S.DATA_FORMS}}}value", text=group.settings.key or "")]),
            ])
            reply.xml.append(S.el(f"{{{S.MUC_OWNER}}}query", children=[form]))
            reply.send()
            return
        values = {}
        for field_el in iq.xml.iter(f"{{{S.DATA_FORMS}}}field"):
            values[field_el.get("var")] = field_el.findtext(f"{{{S.DATA_FORMS}}}value") or ""
        if "muc#roomconfig_roomsecret" in values:
            key = values["muc#roomconfig_roomsecret"].strip()
            if " " in key or "," in key:
                self.error(iq, "not-acceptable", "modify", "A channel key has no spaces or commas")
                return
            change = ("key", True, key) if key else ("key", False, None)
            self.gw.realm.change_settings(group, [change], _session.user)
        iq.reply().send()


def _mask_jid(mask: str) -> str | None:
    """The JID a ban mask stands for, if it is one a MUC client can show."""
    nick, _, userhost = mask.partition("!")
    user, _, host = userhost.partition("@")
    if nick != "*" or not host or any(c in host for c in "*?"):
        return None
    if user == "*":
        return host
    return None if any(c in user for c in "*?") else f"{user}@{host}"
