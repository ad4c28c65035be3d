"""The XMPP side: one slixmpp client session per account, shared by the pairs using it.

It joins the paired rooms (no history: what was said before is not news for
IRC), keeps them joined, and turns what other occupants do into calls on the
pairs. Our own messages come back as MUC reflections from our room nick and
are dropped. A lost stream is reconnected with backoff and every room
rejoined; a room that forgot us while the stream stayed up (a MUC restart,
a kick) is noticed by its presence or by a self-ping (XEP-0410) and rejoined.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass, field

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout, PresenceError
from slixmpp.plugins.xep_0410 import PingStatus

from bots.connector import Backoff, FatalError
from bridge.relay.config import XMPPAccount
from bridge.relay.pair import Pair

__all__ = ["Room", "XMPPSession"]

log = logging.getLogger("bridge.relay.xmpp")

JOIN_TIMEOUT = 30.0
# A refused join (wrong password, banned, members-only) is asked again this much later.
JOIN_RETRY = 60.0
# MUC status codes (XEP-0045 §15.2)
SELF, NICK_CHANGED, KICKED = 110, 303, 307


@dataclass(eq=False)
class Room:
    jid: str
    nick: str  # the nick we ask for
    password: str | None = None
    pairs: list[Pair] = field(default_factory=list)
    current_nick: str | None = None  # the nick the room gave us (code 210 may change it)
    joined: bool = False
    joining: bool = False
    # What the room sends is news from the end of the join sequence (the subject) on,
    # which comes a moment before slixmpp's join_muc_wait() returns and `joined` is set.
    live: bool = False
    occupants: set[str] = field(default_factory=set)
    renamed_to: set[str] = field(default_factory=set)  # new nicks whose join is a rename
    last_activity: float = 0.0
    joins: int = 0  # how many times we joined (1 + rejoins)
    ping_task: asyncio.Task | None = None
    join_task: asyncio.Task | None = None
    join_error: asyncio.Future | None = None  # while joining: an error presence from the room

    @property
    def rejoin_delay(self) -> float:
        return min((p.options.rejoin_delay for p in self.pairs), default=10.0)


class XMPPSession:
    def __init__(self, account: XMPPAccount) -> None:
        self.account = account
        self.rooms: dict[str, Room] = {}
        self.backoff = Backoff(initial=account.reconnect.initial,
                               max_delay=account.reconnect.max_delay)
        self.stopping = False
        self.fatal_error: str | None = None
        self.session_up = False
        self.sessions = 0  # streams opened (1 + reconnections)
        self.all_joined = asyncio.Event()
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self.client = self._make_client()

    def __repr__(self) -> str:
        return f"<XMPPSession {self.account.name} {self.account.jid}>"

    def _make_client(self) -> slixmpp.ClientXMPP:
        acc = self.account
        client = slixmpp.ClientXMPP(acc.jid, acc.password)
        # Exactly one way in, as configured: TLS unless plaintext is asked for by name.
        client.enable_starttls = acc.tls == "starttls"
        client.enable_direct_tls = acc.tls == "direct"
        client.enable_plaintext = acc.tls == "plaintext"
        if acc.tls == "plaintext":
            client.plugin["feature_mechanisms"].unencrypted_scram = True
        if acc.cafile:
            client.ca_certs = acc.cafile
        for plugin in ("xep_0030", "xep_0045", "xep_0199", "xep_0410"):
            client.register_plugin(plugin)
        client.add_event_handler("session_start", self._session_start)
        client.add_event_handler("disconnected", self._disconnected)
        client.add_event_handler("failed_all_auth", self._failed_auth)
        client.add_event_handler("connection_failed", self._connection_failed)
        client.add_event_handler("ssl_invalid_chain", self._starttls_failed)
        client.add_event_handler("groupchat_message", self._message)
        client.add_event_handler("groupchat_subject", self._subject)
        client.add_event_handler("groupchat_presence", self._presence)
        client.add_event_handler("presence_error", self._presence_error)
        return client

    def add_pair(self, pair: Pair) -> None:
        room = self.rooms.get(pair.room)
        if room is None:
            room = self.rooms[pair.room] = Room(pair.room, pair.config.nick,
                                                pair.config.room_password)
        room.pairs.append(pair)

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and stay connected until stop(); raises FatalError on refused credentials."""
        self._connect()
        await self._done.wait()
        if self.fatal_error:
            raise FatalError(self.fatal_error)

    def _connect(self) -> None:
        if self.stopping:
            return
        acc = self.account
        log.info("%s: connecting as %s", acc.name, acc.jid)
        if acc.host:
            self.client.connect(acc.host, acc.port)
        else:
            self.client.connect()  # the JID's domain, through DNS SRV records

    def stop(self) -> None:
        """Leave (closing the stream takes us out of every room) and end run()."""
        self.stopping = True
        self._cancel_all()
        if self.client.transport is not None:
            self._spawn(self._disconnect())
        else:
            self.client.cancel_connection_attempt()
            self._done.set()

    async def _disconnect(self) -> None:
        try:
            await asyncio.wait_for(self.client.disconnect(wait=2.0), 5.0)
        except TimeoutError:
            self.client.abort()
        self._done.set()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: error in a task", self.account.name, exc_info=task.exception())

    def _later(self, delay: float, callback, *args) -> None:
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(handle)

    def _cancel_all(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for room in self.rooms.values():
            self._stop_ping(room)
            # A join waiting on a stream that is gone would hold the room until its timeout.
            if room.join_task is not None:
                room.join_task.cancel()
                room.join_task = None

    # -- stream events --------------------------------------------------------------------------

    def _session_start(self, _event) -> None:
        log.info("%s: session started as %s", self.account.name, self.client.boundjid)
        self.session_up = True
        self.sessions += 1
        self.backoff.reset()
        self.client.send_presence()
        for room in self.rooms.values():
            self._start_join(room)

    def _disconnected(self, reason) -> None:
        if isinstance(reason, ssl.SSLCertVerificationError):
            self._tls_refused(reason)  # STARTTLS: the handshake's end is the stream's
        self.session_up = False
        self.all_joined.clear()
        self._cancel_all()
        for room in self.rooms.values():
            room.joined = room.joining = room.live = False
            room.occupants.clear()
        if self.stopping or self.fatal_error:
            self._done.set()
            return
        delay = self.backoff.next()
        log.warning("%s: stream lost (%s); reconnecting in %.1fs", self.account.name,
                    reason or "closed", delay)
        self._later(delay, self._connect)

    def _connection_failed(self, error) -> None:
        # Direct TLS: slixmpp would retry an untrusted certificate forever, quietly.
        if isinstance(error, ssl.SSLCertVerificationError):
            self._tls_refused(error)

    def _starttls_failed(self, error) -> None:
        # Handling this event stops slixmpp's own disconnect: ours follows.
        if isinstance(error, ssl.SSLCertVerificationError):
            self._tls_refused(error)
        elif self.client.transport is not None:
            self.client.abort()  # another handshake failure: a new stream may do better

    def _tls_refused(self, error: ssl.SSLCertVerificationError) -> None:
        """Not the server we are configured to trust: retrying will not change that."""
        if self.fatal_error:
            return
        acc = self.account
        domain = acc.jid.partition("@")[2]  # the name the certificate must carry
        where = f"{domain} at {acc.host}:{acc.port}" if acc.host else domain
        self.fatal_error = f"TLS certificate of {where} refused: {error.verify_message}"
        log.error("%s: %s; not retrying", acc.name, self.fatal_error)
        self._cancel_all()
        # Later, not from inside the connection attempt that reports the error.
        asyncio.get_running_loop().call_soon(self._give_up)

    def _give_up(self) -> None:
        self.client.cancel_connection_attempt()
        if self.client.transport is not None:
            self.client.abort()
        self._done.set()

    def _failed_auth(self, _event) -> None:
        # A refused password does not get better by retrying: stop, as bots do.
        transport = self.client.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        if not encrypted and self.account.tls != "plaintext":
            # slixmpp goes on without TLS when STARTTLS is not offered, then finds no
            # mechanism it may use in cleartext: say so, not "wrong password".
            self.fatal_error = (f"the XMPP server offers no TLS, and {self.account.jid} will "
                                f"not log in in cleartext (tls: plaintext allows it)")
        else:
            self.fatal_error = f"XMPP login refused for {self.account.jid}"
        log.error("%s: %s; not retrying", self.account.name, self.fatal_error)
        self._spawn(self._disconnect())

    # -- rooms ------------------------------------------------------------------------------------

    async def _join(self, room: Room) -> None:
        if room.joined or room.joining or not self.session_up or self.stopping:
            return
        room.joining = True
        room.current_nick = None
        room.occupants.clear()
        nick = room.nick
        try:
            for _attempt in range(3):
                try:
                    presence, occupants = await self._join_once(room, nick)
                    break
                except PresenceError as e:
                    if e.condition != "conflict":
                        raise
                    log.warning("%s: nick %s is taken in %s", self.account.name, nick, room.jid)
                    nick += "_"
            else:
                raise RuntimeError(f"no free nick from {room.nick!r}")
        except (PresenceError, TimeoutError, RuntimeError) as e:
            room.joining = False
            why = e.text or e.condition if isinstance(e, PresenceError) else str(e) or "timeout"
            log.error("%s: cannot join %s: %s; trying again in %.0fs", self.account.name,
                      room.jid, why, JOIN_RETRY)
            self._later(JOIN_RETRY, self._rejoin, room)
            return
        room.joining = False
        if not self.session_up:
            return  # the stream went away while we waited
        room.current_nick = presence["from"].resource
        room.occupants |= {p["from"].resource for p in occupants} - {room.current_nick}
        room.renamed_to.clear()
        room.joined = room.live = True
        room.joins += 1
        room.last_activity = asyncio.get_running_loop().time()
        log.info("%s: joined %s as %s (%d others there)", self.account.name, room.jid,
                 room.current_nick, len(room.occupants))
        self._start_ping(room)
        if all(r.joined for r in self.rooms.values()):
            self.all_joined.set()

    async def _join_once(self, room: Room, nick: str) -> tuple:
        """One join: our own presence and the occupants', or PresenceError or TimeoutError.

        slixmpp only sees a join error carrying the MUC <x/> element, which Prosody
        leaves out of some (a wrong room password): any error presence from the
        room while we join is the answer, so a refusal is not mistaken for a timeout."""
        loop = asyncio.get_running_loop()
        room.join_error = loop.create_future()
        join = asyncio.ensure_future(self.client.plugin["xep_0045"].join_muc_wait(
            slixmpp.JID(room.jid), nick, password=room.password, maxstanzas=0,
            timeout=JOIN_TIMEOUT))
        try:
            done, _ = await asyncio.wait({join, room.join_error}, timeout=JOIN_TIMEOUT,
                                         return_when=asyncio.FIRST_COMPLETED)
            if join in done:
                presence, _subject, occupants, _history = join.result()
                return presence, occupants
            if room.join_error in done:
                raise PresenceError(room.join_error.result())
            raise TimeoutError(f"no answer in {JOIN_TIMEOUT:.0f}s")
        finally:
            room.join_error = None
            if not join.done():
                join.cancel()

    def _presence_error(self, pres) -> None:
        room = self.rooms.get(pres["from"].bare)
        if room is not None and room.join_error is not None and not room.join_error.done():
            room.join_error.set_result(pres)

    def _start_join(self, room: Room) -> None:
        if not room.joined and not room.joining and self.session_up:
            room.join_task = self._spawn(self._join(room))

    _rejoin = _start_join

    def _lost(self, room: Room, why: str) -> None:
        """We are not in the room any more while the stream is up: rejoin later."""
        room.joined = room.live = False
        room.occupants.clear()
        self.all_joined.clear()
        self._stop_ping(room)
        log.warning("%s: out of %s (%s); rejoining in %.0fs", self.account.name, room.jid, why,
                    room.rejoin_delay)
        self._later(room.rejoin_delay, self._rejoin, room)

    def _start_ping(self, room: Room) -> None:
        self._stop_ping(room)
        room.ping_task = self._spawn(self._self_ping(room))

    def _stop_ping(self, room: Room) -> None:
        if room.ping_task is not None:
            room.ping_task.cancel()
            room.ping_task = None

    async def _self_ping(self, room: Room) -> None:
        """XEP-0410: after `interval` without a stanza from the room, ask it whether we
        are still in; a room restarted behind the stream's back answers not-acceptable."""
        loop = asyncio.get_running_loop()
        interval = self.account.self_ping_interval
        while room.joined:
            quiet = loop.time() - room.last_activity
            if quiet < interval:
                await asyncio.sleep(interval - quiet)
                continue
            status = await self.client.plugin["xep_0410"].send_self_ping(
                slixmpp.JID(f"{room.jid}/{room.current_nick}"),
                timeout=self.account.self_ping_timeout)
            room.last_activity = loop.time()
            if not room.joined:
                return
            if status == PingStatus.DISCONNECTED:
                room.ping_task = None  # _lost() must not cancel this task, which is ending
                self._lost(room, "self-ping: not an occupant")
                return
            if status == PingStatus.TIMEOUT and not await self._server_answers():
                # A stream that stalled without closing: only a new one will do.
                log.warning("%s: the server does not answer pings; reconnecting",
                            self.account.name)
                self.client.abort()
                return

    async def _server_answers(self) -> bool:
        try:
            await self.client.plugin["xep_0199"].ping(
                slixmpp.JID(self.client.boundjid.host), timeout=self.account.self_ping_timeout)
        except IqTimeout:
            return False
        except IqError:
            pass  # an error is an answer
        return True

    def _room_of(self, stanza) -> Room | None:
        room = self.rooms.get(stanza["from"].bare)
        if room is not None:
            room.last_activity = asyncio.get_running_loop().time()
        return room

    # -- what the pairs call ----------------------------------------------------------------------

    def relay_message(self, room_jid: str, body: str) -> bool:
        room = self.rooms.get(room_jid)
        if room is None or not room.joined:
            log.info("%s: not in %s, message not relayed", self.account.name, room_jid)
            return False
        self.client.send_message(mto=slixmpp.JID(room.jid), mbody=body, mtype="groupchat")
        return True

    def relay_subject(self, room_jid: str, subject: str) -> bool:
        room = self.rooms.get(room_jid)
        if room is None or not room.joined:
            return False
        self.client.plugin["xep_0045"].set_subject(slixmpp.JID(room.jid), subject)
        return True

    # -- room events ------------------------------------------------------------------------------

    def _message(self, msg) -> None:
        room = self._room_of(msg)
        # While joining, messages are history (we asked for none) and are never relayed.
        if room is None or not room.live or msg["type"] != "groupchat":
            return
        nick = msg["mucnick"]
        if not nick or nick == room.current_nick:
            return  # the room's own messages, or the reflection of ours
        if msg.get_plugin("delay", check=True) is not None:
            return  # history, delivered late
        body = msg["body"]
        if body:
            for pair in room.pairs:
                pair.from_xmpp_message(nick, body)

    def _subject(self, msg) -> None:
        room = self._room_of(msg)
        if room is None:
            return
        if not room.live:
            # The subject sent on joining is the room's state, not a change; it ends
            # the join sequence (after our own presence): what follows is live.
            if room.joining and room.current_nick is not None:
                room.live = True
            return
        nick = msg["mucnick"]
        if nick == room.current_nick:
            return
        for pair in room.pairs:
            pair.from_xmpp_subject(nick, msg["subject"])

    def _presence(self, pres) -> None:
        room = self._room_of(pres)
        if room is None or pres["type"] == "error":
            return
        nick = pres["from"].resource
        codes = set(pres["muc"]["status_codes"])
        unavailable = pres["type"] == "unavailable"
        if not room.live:
            # Occupants listed while we join are not news; our own presence says our nick.
            if room.joining and SELF in codes and not unavailable:
                room.current_nick = nick
            return
        if SELF in codes or nick == room.current_nick:
            if unavailable and NICK_CHANGED in codes:
                room.current_nick = pres["muc"]["item_nick"] or room.current_nick
            elif unavailable:
                why = "kicked" if KICKED in codes else pres["status"] or "removed"
                self._lost(room, why)
            return
        if unavailable:
            room.occupants.discard(nick)
            if NICK_CHANGED in codes and pres["muc"]["item_nick"]:
                new = pres["muc"]["item_nick"]
                room.renamed_to.add(new)
                for pair in room.pairs:
                    pair.from_xmpp_rename(nick, new)
            elif KICKED in codes:
                for pair in room.pairs:
                    pair.from_xmpp_kick(nick, pres["muc"]["item"]["reason"] or pres["status"])
            else:
                for pair in room.pairs:
                    pair.from_xmpp_leave(nick, pres["status"])
        elif nick not in room.occupants:
            room.occupants.add(nick)
            if nick in room.renamed_to:
                room.renamed_to.discard(nick)
                return
            for pair in room.pairs:
                pair.from_xmpp_join(nick)
