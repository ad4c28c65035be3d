"""The XMPP gateway: a front end of the words realm, as the IRC server is.

An XEP-0114 component (`irc.example.org`) on the XMPP server: rooms are
`#chan@irc.example.org`, IRC users are occupants and `nick@irc.example.org`.
XMPP users who join become realm users (`XMPPSession` is their mind), so IRC
users see them as users like any other.

The link to the XMPP server reconnects with backoff. While it is down, and
for `grace_seconds`, its users stay in the realm: a short outage (an XMPP
server restart) does not make them quit and rejoin on IRC. When it is back,
each client still joined is asked (a ping from the room) and brought up to
date; clients that rejoin pick up their session where it was.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bridge.gateway import stanzas as S
from bridge.gateway.addresses import escape_node
from bridge.gateway.link import ComponentLink
from bridge.gateway.session import Batch, Room, XMPPSession
from bridge.gateway.text import irc_to_xmpp
from words.realm import Group, Quit, User

if TYPE_CHECKING:
    from words.config import Config
    from words.cred import Portal
    from words.realm import WordsRealm
    from words.realm.events import Said

log = logging.getLogger("bridge.gateway")

# Messages remembered (id -> sender, text) so replies and reactions can quote them.
_REMEMBERED = 2000
# Spellings of nick@component remembered per JID (see contact_jid).
_CONTACTS = 100


class Gateway:
    def __init__(self, config: Config, realm: WordsRealm, portal: Portal) -> None:
        from bridge.gateway.commands import Commands
        from bridge.gateway.disco import Disco
        from bridge.gateway.identity import Identity
        from bridge.gateway.muc import Muc

        assert config.xmpp is not None
        self.config = config
        self.xmpp_config = config.xmpp
        self.domain = config.xmpp.component
        self.realm = realm
        self.portal = portal
        self.sessions: dict[str, list[XMPPSession]] = {}  # bare JID -> its sessions
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()
        self._recent: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._contacts: dict[str, OrderedDict[str, str]] = {}  # bare JID -> folded nick -> JID
        self._grace: asyncio.TimerHandle | None = None
        self.batch: Batch | None = None  # see Muc._groupchat
        self.connected = asyncio.Event()
        self._unsubscribe: Any = lambda: None
        self.muc = Muc(self)
        self.identity = Identity(self)
        self.disco = Disco(self)
        self.commands = Commands(self)
        self.link = ComponentLink(config.xmpp, self._setup, self._link_up, self._link_down)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: the IRC server never waits for the XMPP server."""
        self._unsubscribe = self.realm.subscribe(self._on_event)
        self.link.start()

    def _on_event(self, event: Any) -> None:
        """A gateway user signed off by someone else (an oper's KILL): its clients are told.

        The realm tells a quitting user's own mind nothing, so the gateway listens."""
        if type(event) is not Quit:
            return
        for sessions in list(self.sessions.values()):
            for session in list(sessions):
                if session.user is event.user and not session.closed:
                    self.end_session(session, event.reason, tell=True, signed_off=True)

    async def stop(self, reason: str = "Gateway shutting down") -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, lambda: None
        unsubscribe()
        for session in [s for sessions in self.sessions.values() for s in sessions]:
            self.end_session(session, reason, tell=True, code=S.SHUTDOWN)
        await self.link.stop()
        if self._grace is not None:
            self._grace.cancel()
        for task in list(self._tasks):
            task.cancel()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    @property
    def xmpp(self) -> Any:
        """The live ComponentXMPP, or None while the link is down."""
        return self.link.xmpp

    def _setup(self, xmpp: Any) -> None:
        from slixmpp.xmlstream.handler import Callback
        from slixmpp.xmlstream.matcher import MatchXPath

        ns = xmpp.default_ns
        xmpp.register_handler(Callback("gateway presence", MatchXPath(f"{{{ns}}}presence"),
                                       self.muc.on_presence))
        xmpp.register_handler(Callback("gateway message", MatchXPath(f"{{{ns}}}message"),
                                       self.muc.on_message))
        iqs = [
            (f"{{{S.DISCO_INFO}}}query", self.disco.on_info),
            (f"{{{S.DISCO_ITEMS}}}query", self.disco.on_items),
            (f"{{{S.PING}}}ping", self.disco.on_ping),
            (f"{{{S.REGISTER}}}query", self.identity.on_register),
            (f"{{{S.MUC_ADMIN}}}query", self.muc.on_admin),
            (f"{{{S.MUC_OWNER}}}query", self.muc.on_owner),
        ]
        for payload, handler in iqs:
            xmpp.register_handler(Callback(f"gateway {payload}", MatchXPath(f"{{{ns}}}iq/{payload}"),
                                           handler))
        self.commands.setup(xmpp)

    def _link_up(self, xmpp: Any) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.connected.set()
        if self.link.connects > 1:
            self.spawn(self._restore())

    def _link_down(self) -> None:
        self.connected.clear()
        if self._grace is None and self.sessions:
            self._grace = asyncio.get_running_loop().call_later(
                self.xmpp_config.grace_seconds, self._grace_over)

    def _grace_over(self) -> None:
        self._grace = None
        if self.xmpp is not None:
            return
        log.warning("XMPP: link down for over %ss; its users leave", self.xmpp_config.grace_seconds)
        for session in [s for sessions in self.sessions.values() for s in sessions]:
            self.end_session(session, "XMPP gateway unreachable")

    async def _restore(self) -> None:
        """Ask each joined client whether it is still there; update those that are."""
        checks = []
        for session in [s for sessions in self.sessions.values() for s in sessions]:
            for folded, room in list(session.rooms.items()):
                for resource in list(room.resources):
                    checks.append(self._check_resource(session, folded, room, resource))
        await asyncio.gather(*checks)

    async def _check_resource(self, session: XMPPSession, folded: str, room: Room,
                              resource: str) -> None:
        from slixmpp.exceptions import IqError, IqTimeout

        xmpp = self.xmpp
        if xmpp is None or session.user is None:
            return
        iq = xmpp.make_iq_get(ito=resource, ifrom=room.occupant(resource, session.user.name))
        iq.xml.append(S.el(f"{{{S.PING}}}ping"))
        try:
            await iq.send(timeout=10)
        except (IqError, IqTimeout):
            if session.rooms.get(folded) is room:
                self.drop_resource(session, room, resource, "Connection lost")
            return
        if session.rooms.get(folded) is room and resource in room.resources:
            session.restore(room)

    # -- sessions --------------------------------------------------------------------

    def lock(self, jid: str) -> asyncio.Lock:
        """One lock per bare JID: its joins and leaves are handled one at a time."""
        lock = self._locks.get(jid)
        if lock is None:
            lock = self._locks[jid] = asyncio.Lock()
        return lock

    def session_in(self, jid: str, group: Group | str) -> XMPPSession | None:
        folded = group.folded if isinstance(group, Group) else group
        for session in self.sessions.get(jid, ()):
            if folded in session.rooms:
                return session
        return None

    def session_named(self, jid: str, nick: str) -> XMPPSession | None:
        folded = self.realm.casefold(nick)
        for session in self.sessions.get(jid, ()):
            if session.user is not None and session.user.folded == folded:
                return session
        return None

    def add_session(self, session: XMPPSession) -> None:
        self.sessions.setdefault(session.jid, []).append(session)

    def end_session(self, session: XMPPSession, reason: str, *, tell: bool = False,
                    code: str = S.KICKED, signed_off: bool = False) -> None:
        """Sign `session` off; with `tell`, its clients get their unavailable presence first."""
        if session.closed:
            return
        session.closed = True
        if tell and session.user is not None:
            for room in session.rooms.values():
                session.occupant_presence(room, session.user, ptype="unavailable",
                                          codes=(code, S.SELF), reason=reason)
        for room in session.rooms.values():
            if room.orphaned is not None:
                room.orphaned.cancel()
        session.rooms.clear()
        sessions = self.sessions.get(session.jid, [])
        if session in sessions:
            sessions.remove(session)
        if not sessions:
            self.sessions.pop(session.jid, None)
            self._contacts.pop(session.jid, None)
            lock = self._locks.get(session.jid)
            if lock is not None and not lock.locked():
                del self._locks[session.jid]
        if not signed_off:
            session.avatar.logout(reason)

    def drop_resource(self, session: XMPPSession, room: Room, resource: str, reason: str) -> None:
        """A client is gone without leaving (lost connection): the user stays for the grace time."""
        room.resources.pop(resource, None)
        if room.resources or room.orphaned is not None:
            return
        room.orphaned = asyncio.get_running_loop().call_later(
            self.xmpp_config.grace_seconds, self._orphan_over, session, room, reason)

    def _orphan_over(self, session: XMPPSession, room: Room, reason: str) -> None:
        room.orphaned = None
        if room.resources or session.closed or session.user is None:
            return
        if session.user in room.group.members:
            self.realm.leave(session.user, room.group, reason)  # user_left forgets the room
        else:
            session.forget_room(room.group.folded)

    def spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("XMPP gateway task failed", exc_info=task.exception())

    # -- addresses and rendering ------------------------------------------------------------

    # Where no client chose a spelling (disco items, invitations, IRC users' JIDs), names
    # are folded by the realm's casemapping, then lower-cased as nodeprep does on the way
    # in: one JID per channel or nick. A client that joined (or wrote to) another spelling
    # hears from that one: Room.resources and contact_jid.

    def room_jid(self, group: Group) -> str:
        return f"{escape_node(self.realm.casefold(group.name).lower())}@{self.domain}"

    def user_jid(self, nick: str) -> str:
        return f"{escape_node(self.realm.casefold(nick).lower())}@{self.domain}"

    def note_contact(self, jid: str, user: User, addressed: str) -> None:
        """`jid` wrote to `user` as `addressed` (`nick@component` in its own spelling)."""
        contacts = self._contacts.setdefault(jid, OrderedDict())
        contacts[user.folded] = addressed
        contacts.move_to_end(user.folded)
        while len(contacts) > _CONTACTS:
            contacts.popitem(last=False)

    def contact_jid(self, jid: str, user: User) -> str:
        """The JID `user`'s private messages to `jid` come from: the one `jid` wrote to."""
        return self._contacts.get(jid, {}).get(user.folded) or self.user_jid(user.name)

    def affiliation(self, group: Group, member: User) -> str:
        status = group.members.get(member, "")
        account = self.realm.casefold(member.account) if member.account else None
        if group.founder is not None and account == group.founder:
            return "owner"
        if "o" in status:
            return "admin"
        if "v" in status or (account and account in group.access):
            return "member"
        return "none"

    def role(self, group: Group, member: User) -> str:
        status = group.members.get(member, "")
        if "o" in status:
            return "moderator"
        if "v" in status or not group.settings.moderated:
            return "participant"
        return "visitor"

    def body_for_xmpp(self, event: Said) -> str:
        text = irc_to_xmpp(event.text, self.xmpp_config.formatting)
        return f"/me {text}" if event.action else text

    def send_subject(self, room: Room, resources: Iterable[str], by: User | None = None) -> None:
        xmpp = self.xmpp
        if xmpp is None:
            return
        group = room.group
        for resource in sorted(resources):
            # From the occupant who set it when known live, else from the room itself.
            sender = room.occupant(resource, by.name) if by is not None else room.resources[resource]
            stanza = S.message(xmpp, sender, resource, "groupchat")
            # Even empty, the subject is sent: it ends the join sequence.
            stanza["subject"] = irc_to_xmpp(group.topic, self.xmpp_config.formatting)
            stanza.send()

    def remember(self, msgid: str, nick: str, text: str) -> None:
        recent = self._recent
        recent[msgid] = (nick, text)
        while len(recent) > _REMEMBERED:
            recent.popitem(last=False)

    def recall(self, msgid: str) -> tuple[str, str] | None:
        return self._recent.get(msgid)
