"""The IRC server: listeners, the per-iteration flush, timeouts, the welcome burst."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections import Counter, deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from words import __version__, heap
from words.config import ConfigError, load_config
from words.cred import LoginFailed, UsernamePassword
from words.irc import numerics as N
from words.irc.codec import format_line
from words.irc.commands import load_handlers
from words.irc.connection import _CLOSE_GRACE, IRCConnection, user_prefix
from words.irc.connlimits import ConnectionLimiter
from words.irc.modes import ALL_CHANNEL_MODES, CHANMODES_TOKEN, USER_MODES
from words.irc.monitor import EVENTS as MONITOR_EVENTS
from words.irc.monitor import Monitors
from words.irc.tls import server_context
from words.irc.transport import PlainListener, Reactor, available
from words.masks import match_mask
from words.names import SkeletonIndex
from words.realm.events import (
    Event,
    Quit,
    Renamed,
    ServerBanChanged,
    SignedOn,
    UserFlagsChanged,
)

if TYPE_CHECKING:
    from words.config import Config, Listen, Oper
    from words.cred import CredentialsChecker, Portal
    from words.realm import User, WordsRealm

log = logging.getLogger("words.irc")

# How often idle and unregistered connections are checked.
_SWEEP_SECONDS = 1.0
# Connections closed since the last heap trim after which the sweep trims again
# (words.heap: free memory back to the system after a crowd left; about a millisecond).
_TRIM_AFTER_CLOSES = 1000
# ISUPPORT tokens per 005 line (RFC 2812 practice: at most 13).
_TOKENS_PER_LINE = 13
# Where the nick goes in a pre-rendered welcome line (see _welcome_templates): a valid
# middle parameter that none of those lines holds otherwise (checked).
_NICK_SLOT = "\x01"


@dataclass(frozen=True, slots=True)
class WhowasEntry:
    nick: str
    username: str
    host: str
    realname: str
    when: float


class IRCServer:
    """Serves one words realm over IRC on one or more listening addresses."""

    def __init__(
        self,
        config: Config,
        realm: WordsRealm,
        portal: Portal,
        oper_checker: CredentialsChecker | None = None,
    ) -> None:
        self.config = config
        self.realm = realm
        self.portal = portal
        self.oper_checker = oper_checker
        self.name = config.server_name
        self.commands = load_handlers()
        self.connections: set[IRCConnection] = set()
        self.created = time.time()
        self._dirty: list[IRCConnection] = []
        self._flush_handle: asyncio.Handle | None = None
        self._servers: list[asyncio.Server | PlainListener] = []
        # One asyncio server per `listen` entry; REHASH opens and closes them.
        self._listeners: dict[Listen, asyncio.Server | PlainListener] = {}
        self._bound: dict[Listen, list[tuple[str, int]]] = {}
        self._listen_lock = asyncio.Lock()
        # Serves the plain listeners and their connections on asyncio's own loop
        # (words.irc.transport: a fraction of asyncio's memory per connection).
        self._reactor: Reactor | None = None
        # REHASH follows the file's `listen` only when the addresses came from it:
        # `words serve` without --listen unlocks them (servers built in code keep theirs).
        self.listen_locked = True
        self._sweeper: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self.isupport = self._isupport_lines()
        # The welcome burst's lines that depend on the config only, rendered once for
        # (config, isupport); made again after a REHASH (see _welcome_templates).
        self._welcome_key: tuple[object, object] | None = None
        self._welcome_static: list[bytes] | None = None
        self._motd_lines: list[bytes] | None = None
        self._ssl_contexts = {listen: self._tls(i, listen) for i, listen in enumerate(config.listen)}
        # Connection caps per address and per network, and reconnect throttling.
        self.conn_limits = ConnectionLimiter()
        self.per_ip = self.conn_limits.per_ip
        # Counted from the realm's events, so LUSERS costs nothing per client.
        self.user_count = 0
        self.local_users = 0  # registered connections of this server
        self.max_user_count = 0
        self.flag_counts: Counter[str] = Counter()
        self.whowas: deque[WhowasEntry] = deque(maxlen=config.limits.whowas_length)
        # STATS m: how often each command was dispatched (counted in IRCConnection.dispatch).
        self.command_counts: Counter[str] = Counter()
        # Metrics (words.metrics): plain ints, added to per read and per flush, never per recipient.
        self.connections_total = 0
        self.lines_in = 0
        self.bytes_in = 0
        self.deliveries = 0  # queued writes: one per recipient of an event, or per reply
        self.lines_out = 0
        self.bytes_out = 0
        self.sendq_disconnects = 0
        self.heap_trims = 0
        self._closed_at_trim = 0  # connections closed (accepted - open) at the last trim
        self.loop_lag = 0.0  # how late the last sweep ran, in seconds
        self.loop_lag_sum = 0.0
        self.loop_lag_count = 0
        # DIE and RESTART ask whoever runs the server (words.app.serve) to stop it.
        self.shutdown_requested = asyncio.Event()
        self.shutdown_reason = "Server shutting down"
        self.restart_requested = False
        # MONITOR lists; told of sign-ons, quits and nick changes by _on_event.
        self.monitors = Monitors(realm.casefold)
        # Nicks in use by their skeleton, so a look-alike is refused (words.names).
        self.nick_skeletons = SkeletonIndex(realm.casefold)
        for user in realm.users.values():
            if user.online:
                self.nick_skeletons.add(user.name, user)
        self._unsubscribe = realm.subscribe(self._on_event)
        # K-lines and D-lines: stored by the SQL realm, in memory otherwise.
        from words.irc.serverbans import ServerBans

        self.bans = ServerBans(getattr(realm, "server_ban_store", None), realm.casefold)

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> list[tuple[str, int]]:
        """Listen on every configured address; returns the bound (host, port) pairs."""
        loop = asyncio.get_running_loop()
        await self.bans.load()  # before the first client: a D-lined address never gets in
        for listen in self.config.listen:
            await self._listen(listen)
        self._sweeper = loop.call_later(_SWEEP_SECONDS, self._sweep)
        return self.bound

    @property
    def bound(self) -> list[tuple[str, int]]:
        """Every (host, port) the server listens on now."""
        return [address for addresses in self._bound.values() for address in addresses]

    async def _listen(self, listen: Listen) -> None:
        """Start accepting on one `listen` entry; OSError if the address cannot be had."""
        # Cluster nodes on one machine may share a port: the kernel spreads the
        # connections over them (SO_REUSEPORT), so every core works.
        cluster = self.config.cluster
        backlog = listen_backlog(self.config.limits.listen_backlog)
        if backlog < self.config.limits.listen_backlog:
            log.warning("limits.listen_backlog %d is above net.core.somaxconn: the kernel uses %d",
                        self.config.limits.listen_backlog, backlog)
        reuse_port = cluster is not None and cluster.enabled and cluster.reuse_port
        loop = asyncio.get_running_loop()
        ssl_context = self._ssl_contexts.get(listen)
        server: asyncio.Server | PlainListener
        if ssl_context is None and available(loop):
            if self._reactor is None:
                self._reactor = Reactor(loop)
            server = await self._reactor.listen(lambda: IRCConnection(self), listen.host,
                                                listen.port, backlog=backlog, reuse_port=reuse_port)
        else:
            server = await loop.create_server(
                lambda: IRCConnection(self), listen.host, listen.port, reuse_address=True,
                reuse_port=reuse_port, ssl=ssl_context, backlog=backlog,
            )
        self._listeners[listen] = server
        self._servers.append(server)
        self._bound[listen] = [sock.getsockname()[:2] for sock in server.sockets]
        for host, port in self._bound[listen]:
            log.info("listening on %s:%s", host, port)

    def _unlisten(self, listen: Listen) -> None:
        """Stop accepting on one entry; connections made through it stay."""
        server = self._listeners.pop(listen)
        server.close()  # closes the listening sockets only (not awaited: that waits for clients on 3.12)
        self._servers.remove(server)
        for host, port in self._bound.pop(listen, []):
            log.info("stopped listening on %s:%s", host, port)

    async def _apply_listen(self, wanted: tuple[Listen, ...]) -> None:
        """After a REHASH: close the entries no longer wanted, then open the new ones.

        Compared with what is open (not with the old config), so an address
        that could not be had is tried again at the next REHASH. Closing first
        lets an entry whose TLS files changed take its port back.
        """
        async with self._listen_lock:
            for listen in [l for l in self._listeners if l not in wanted]:
                self._unlisten(listen)
            for listen in [l for l in wanted if l not in self._listeners]:
                try:
                    await self._listen(listen)
                except OSError as exc:
                    # asyncio words it "error while attempting to bind on ...": say it plainly.
                    reason = os.strerror(exc.errno) if exc.errno else str(exc)
                    problem = f"cannot listen on {listen}: {reason}"
                    log.error("REHASH: %s", problem)
                    self._tell_opers(f"*** REHASH: {problem}")

    def _tell_opers(self, text: str) -> None:
        for conn in list(self.connections):
            if conn.oper is not None:
                conn.notice(text)

    async def stop(self, reason: str = "Server shutting down") -> None:
        """Stop listening and close every connection: each client gets what was queued
        for it, then an ERROR with `reason`; returns once they took it (or were cut)."""
        for server in self._servers:
            server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn.close(reason)
        await self._drain_connections()
        for server in self._servers:
            await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        self._servers.clear()
        if self._reactor is not None:
            self._reactor.stop()  # closes once the last connection is gone
        # Stopping twice is harmless: the realm subscription goes once.
        unsubscribe, self._unsubscribe = self._unsubscribe, lambda: None
        unsubscribe()

    async def _drain_connections(self) -> None:
        """Wait until every closed connection has handed over its output.

        Python 3.11's Server.wait_closed() returns at once, and what a transport
        still holds is lost when the loop ends. A connection leaves `connections`
        in connection_lost, once its output is written, or once it is cut
        _CLOSE_GRACE seconds after its close (IRCConnection._abort); so this waits
        at most about that long, and cuts whatever is left after it.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CLOSE_GRACE + 0.5
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.02)  # no event says "the last one is gone"; at shutdown only
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()

    def request_shutdown(self, reason: str, *, restart: bool = False) -> None:
        """Ask the runner to stop the server (and, for RESTART, to start it again).

        The runner (`words.app.serve`) waits on `shutdown_requested`, calls
        `stop(shutdown_reason)` and, if `restart_requested`, re-executes itself.
        """
        self.shutdown_reason = reason
        self.restart_requested = restart
        self.shutdown_requested.set()

    def _tls(self, index: int, listen: Listen) -> ssl.SSLContext | None:
        if listen.tls is None:
            return None
        try:
            return server_context(listen.tls)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(self.config.source, f"listen[{index}].tls", f"cannot load: {exc}") from None

    def _on_event(self, event: Event) -> None:
        kind = type(event)
        if kind in MONITOR_EVENTS:
            self.monitors.on_event(event)
        if kind is SignedOn:
            self.user_count += 1
            self.max_user_count = max(self.max_user_count, self.user_count)
            self.nick_skeletons.add(event.user.name, event.user)
        elif kind is Quit:
            self.user_count -= 1
            self.flag_counts.subtract(event.user.flags)
            self._remember(event.user, event.user.name, event.time)
            self.nick_skeletons.remove(event.user.name, event.user)
        elif kind is Renamed:
            self._remember(event.user, event.old_name, event.time)
            self.nick_skeletons.remove(event.old_name, event.user)
            self.nick_skeletons.add(event.new_name, event.user)
        elif kind is UserFlagsChanged:
            for flag, add in event.changes:
                self.flag_counts[flag] += 1 if add else -1
        elif kind is ServerBanChanged and self.realm.applying_remote:
            self._learn_ban(event)

    def _learn_ban(self, event: ServerBanChanged) -> None:
        """A K-/D-line set or lifted on another node of the cluster (which stored it)."""
        name = f"{event.kind.upper()}-line"
        if self.bans.learn(event.kind, event.mask, event.ban) is not None:
            log.info("%s %s lifted on another node", name, event.mask)
        if event.ban is not None:
            log.info("%s %s set on another node by %s: %s", name, event.mask, event.ban.set_by,
                     event.ban.reason)
            # Once the remote event is applied: the quits it causes are this node's own,
            # and go to the other nodes like any quit of a local user.
            asyncio.get_running_loop().call_soon(self.enforce_ban, event.ban, event.ban.set_by)

    async def reload_bans(self) -> None:
        """Bans again from the database (a cluster node back after missing messages):
        those set meanwhile elsewhere are enforced, those lifted are gone."""
        for ban in await self.bans.reload():
            self.enforce_ban(ban, ban.set_by)

    def enforce_ban(self, ban, by: str, setter: IRCConnection | None = None) -> None:
        """Disconnect every client the new `ban` matches, at once; the oper who set it
        (`setter`, on this node) is warned, not cut."""
        label = "D-lined" if ban.kind == "d" else "K-lined"
        for other in list(self.connections):
            if other.closing:
                continue
            if ban.kind == "d":
                hit = self.bans.find_dline(other.peer_host) is ban
            else:
                hit = other.user is not None and self.bans.find_kline(
                    other.user.username, [other.peer_host, other.user.host]) is ban
            if not hit:
                continue
            if other is setter:
                setter.notice(f"*** Your own connection matches this {label[0]}-line; it stays open")
                continue
            other.log.info("%s by %s: %s", label, by, ban.reason)
            other.close(f"{label}: {ban.reason}")

    def _remember(self, user: User, nick: str, when: float) -> None:
        self.whowas.appendleft(WhowasEntry(nick, user.username, user.host, user.realname, when))

    # -- operators and configuration ---------------------------------------------------

    async def check_oper(self, conn: IRCConnection, name: str, password: str) -> Oper | None:
        """The oper block for `name` if the password is right and the host allowed; else None.

        The password goes through words.cred (same hashing, same constant-time
        paths as user logins); the host masks are checked after it, so a wrong
        host costs the same time as a wrong password.
        """
        if self.oper_checker is None or conn.user is None:
            return None
        try:
            avatar_id = await self.oper_checker.request_avatar_id(UsernamePassword(name, password))
        except LoginFailed:
            return None
        oper = next((o for o in self.config.opers if o.name == avatar_id), None)
        if oper is None:
            return None  # removed by a REHASH while the check ran
        masks = self._oper_masks(conn)
        if not any(match_mask(self.realm.casefold(h), m) for h in oper.hosts for m in masks):
            return None
        return oper

    def _oper_masks(self, conn: IRCConnection) -> list[str]:
        """user@host of the client, for oper blocks: the real address and, if cloaked, the cloak."""
        assert conn.user is not None
        username = conn.user.username
        hosts = {conn.peer_host, conn.user.host}
        return [self.realm.casefold(f"{username}@{host}") for host in hosts]

    def oper_host_allowed(self, conn: IRCConnection, name: str) -> bool:
        """Does an oper block called `name` accept this client's user@host?"""
        if conn.user is None:
            return False
        masks = self._oper_masks(conn)
        return any(
            match_mask(self.realm.casefold(h), m)
            for o in self.config.opers if o.name == name
            for h in o.hosts
            for m in masks
        )

    def rehash(self) -> str | None:
        """Reload the config file; returns an error (keeping the old config) or None.

        Limits, MOTD, opers, auth and ISUPPORT change at once; connections stay.
        New `listen` entries start listening and removed ones stop accepting
        (their connections stay), in a task right after; an address that cannot
        be had is logged and told to the opers. Under `words serve --listen`
        the addresses stay as the command line gave them.
        """
        from words.app import checkers_from_config

        if self.config.source.startswith("<"):
            return "the server was started without a config file"
        from words.irc import caps

        before = caps.offered(self)
        try:
            config = load_config(self.config.source)
            checkers, oper_checker = checkers_from_config(config, self.realm)
            if self.listen_locked:
                config = replace(config, listen=self.config.listen)
            # TLS files are loaded now, so a bad certificate refuses the whole REHASH.
            contexts = {
                listen: self._ssl_contexts[listen] if listen in self._ssl_contexts else self._tls(i, listen)
                for i, listen in enumerate(config.listen)
            }
        except ConfigError as exc:
            log.error("REHASH refused: %s", exc)
            return str(exc)
        old_cloak = self.config.cloak
        self.config = config
        self._ssl_contexts = contexts
        if set(config.listen) != set(self._listeners):
            self.track(asyncio.get_running_loop().create_task(self._apply_listen(config.listen)))
        self.portal.set_checkers(checkers)
        self.oper_checker = oper_checker
        self.isupport = self._isupport_lines()
        self.whowas = deque(self.whowas, maxlen=config.limits.whowas_length)
        history = getattr(self.realm, "history", None)
        if history is not None:  # its retention follows (history.enabled needs a restart)
            from words.app import history_retention

            history.configure(history_retention(config, self.realm), private=config.history.private)
        caps.announce_changes(self, before)  # cap-notify: CAP NEW / DEL
        self._refresh_opers()
        from words.irc.cloak import recloak

        recloak(self, old_cloak)  # users see the new cloak at once (CHGHOST)
        log.info("configuration reloaded from %s", config.source)
        return None

    def _refresh_opers(self) -> None:
        """After a REHASH, opers follow their block as it now is; a removed block de-opers."""
        blocks = {oper.name: oper for oper in self.config.opers}
        for conn in list(self.connections):
            if conn.oper is None:
                continue
            conn.oper = blocks.get(conn.oper.name)
            if conn.oper is None and conn.user is not None:
                conn.notice("*** Your operator block was removed from the configuration")
                self.realm.set_user_flags(conn.user, [("operator", False)])

    def track(self, task: asyncio.Task) -> None:
        """Keep a reference to a background task until it ends."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- output: one write per connection per loop iteration --------------------------

    def schedule_flush(self, conn: IRCConnection) -> None:
        self._dirty.append(conn)
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    # -- timeouts -------------------------------------------------------------------

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        if self._sweeper is not None:
            # Event-loop lag: how much later than asked this timer runs.
            lag = self.loop_lag = max(0.0, loop.time() - self._sweeper.when())
            self.loop_lag_sum += lag
            self.loop_lag_count += 1
        limits = self.config.limits
        now = time.monotonic()
        self.conn_limits.forget_old_attempts(limits, now)
        closed = self.connections_total - len(self.connections)
        if closed - self._closed_at_trim >= _TRIM_AFTER_CLOSES:
            self._closed_at_trim = closed
            if heap.trim():
                self.heap_trims += 1
        for conn in list(self.connections):
            if conn.closing:
                continue
            if conn.user is None:
                if now - conn.connected_at > limits.registration_timeout:
                    conn.close("Registration timed out")
                continue
            if conn.ping_sent is not None:
                if now - conn.ping_sent > limits.ping_timeout:
                    conn.close(f"Ping timeout: {int(now - conn.last_activity)} seconds")
            elif now - conn.last_activity > limits.ping_interval:
                conn.ping_sent = now
                conn.send("PING", self.name)
        self._sweeper = loop.call_later(_SWEEP_SECONDS, self._sweep)

    # -- the welcome burst ------------------------------------------------------------

    def _isupport_lines(self) -> list[list[str]]:
        limits = self.config.limits
        targets = limits.max_targets
        history = getattr(self.realm, "history", None) is not None
        tokens = [
            f"AWAYLEN={limits.awaylen}",
            "BOT=B",
            f"CASEMAPPING={self.realm.casemapping}",
            f"CHANLIMIT=#:{limits.max_channels_per_user}",
            f"CHANMODES={CHANMODES_TOKEN}",
            f"CHANNELLEN={limits.channellen}",
            "CHANTYPES=#",
            # draft/chathistory: the most one CHATHISTORY returns, and its selectors.
            *([f"CHATHISTORY={self.config.history.chathistory_limit}"] if history else []),
            "ELIST=MNU",
            "EXCEPTS=e",
            "INVEX=I",
            f"KICKLEN={limits.kicklen}",
            f"MAXLIST=beI:{limits.max_list_entries}",
            f"MODES={limits.max_modes}",
            f"MONITOR={limits.max_monitor_entries}",
            *(["MSGREFTYPES=msgid,timestamp"] if history else []),
            f"NETWORK={self.config.network}",
            f"NICKLEN={limits.nicklen}",
            "PREFIX=(ov)@+",
            "STATUSMSG=@+",
            f"TARGMAX=JOIN:,PART:,PRIVMSG:{targets},NOTICE:{targets},WHOIS:1,NAMES:1,LIST:,KICK:",
            f"TOPICLEN={limits.topiclen}",
            *(["UTF8ONLY"] if self.config.utf8_only else []),
            "WHOX",
        ]
        return [tokens[i : i + _TOKENS_PER_LINE] for i in range(0, len(tokens), _TOKENS_PER_LINE)]

    def welcome(self, conn: IRCConnection) -> None:
        assert conn.user is not None
        self.local_users += 1
        conn.numeric(
            N.RPL_WELCOME,
            f"Welcome to the {self.config.network} IRC Network {user_prefix(conn.user)}",
        )
        static, _motd = self._welcome_templates()
        if static is not None:
            conn.send_lines(_fill_nick(static, conn.nick))
        else:
            for code, *params in self._welcome_numerics():
                conn.numeric(code, *params)
        self.send_lusers(conn)
        self.send_motd(conn)

    def _welcome_numerics(self) -> list[tuple[str, ...]]:
        """002 to 005: what the welcome burst says after 001, before LUSERS."""
        created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))
        return [
            (N.RPL_YOURHOST, f"Your host is {self.name}, running version words-{__version__}"),
            (N.RPL_CREATED, f"This server was created {created}"),
            (N.RPL_MYINFO, self.name, f"words-{__version__}", "".join(sorted(USER_MODES)),
             ALL_CHANNEL_MODES, "Ibeklov"),
            *[(N.RPL_ISUPPORT, *tokens, "are supported by this server") for tokens in self.isupport],
        ]

    def _motd_numerics(self) -> list[tuple[str, ...]]:
        motd = self.config.motd
        if not motd.strip():
            return [(N.ERR_NOMOTD, "MOTD File is missing")]
        return [
            (N.RPL_MOTDSTART, f"- {self.name} Message of the day - "),
            *[(N.RPL_MOTD, f"- {line}") for line in motd.splitlines()],
            (N.RPL_ENDOFMOTD, "End of /MOTD command."),
        ]

    def _welcome_templates(self) -> tuple[list[bytes] | None, list[bytes] | None]:
        """002-005 and the MOTD as bytes split where the nick goes, made once per
        (config, ISUPPORT): a registration then costs a join per block instead of
        formatting and encoding some twenty lines. None for a block that cannot be
        made so (a MOTD line holding the placeholder): it is then sent line by line."""
        key = (self.config, self.isupport)
        if self._welcome_key is None or any(a is not b for a, b in zip(key, self._welcome_key)):
            self._welcome_static = _nick_template(self.name, self._welcome_numerics())
            self._motd_lines = _nick_template(self.name, self._motd_numerics())
            self._welcome_key = key
        return self._welcome_static, self._motd_lines

    def send_lusers(self, conn: IRCConnection) -> None:
        users, peak = self.user_count, self.max_user_count
        invisible = self.flag_counts["invisible"]
        opers = self.flag_counts["operator"]
        unknown = len(self.connections) - self.local_users
        # Part of every welcome burst: written directly (what numeric() would make, as
        # every parameter is a number or the nick and each text holds a space).
        head = f":{self.name} "
        nick = conn.nick or "*"
        visible = users - invisible
        lines = [f"{N.RPL_LUSERCLIENT} {nick} :There are {visible} users and {invisible} invisible on 1 servers"]
        if opers:
            lines.append(f"{N.RPL_LUSEROP} {nick} {opers} :operator(s) online")
        if unknown:
            lines.append(f"{N.RPL_LUSERUNKNOWN} {nick} {unknown} :unknown connection(s)")
        lines += [
            f"{N.RPL_LUSERCHANNELS} {nick} {len(self.realm.groups)} :channels formed",
            f"{N.RPL_LUSERME} {nick} :I have {users} clients and 0 servers",
            f"{N.RPL_LOCALUSERS} {nick} {users} {peak} :Current local users {users}, max {peak}",
            f"{N.RPL_GLOBALUSERS} {nick} {users} {peak} :Current global users {users}, max {peak}",
        ]
        conn.send_lines("".join(f"{head}{line}\r\n" for line in lines).encode("utf-8", "replace"))

    def send_motd(self, conn: IRCConnection) -> None:
        _static, motd = self._welcome_templates()
        if motd is not None:
            conn.send_lines(_fill_nick(motd, conn.nick))
            return
        for code, *params in self._motd_numerics():
            conn.numeric(code, *params)


def somaxconn() -> int | None:
    """The kernel's cap on a listen backlog (Linux net.core.somaxconn), None if unknown."""
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def listen_backlog(wanted: int) -> int:
    """limits.listen_backlog, capped as the kernel caps it.

    A connection storm beyond the backlog overflows the accept queue: the kernel
    drops the SYNs (clients retry after 1 s, 3 s...) or resets the connections.
    """
    cap = somaxconn()
    return min(wanted, cap) if cap is not None else wanted


def _nick_template(server_name: str, numerics: list[tuple[str, ...]]) -> list[bytes] | None:
    """`numerics` rendered as IRCConnection.numeric renders them, split where the nick goes."""
    lines = []
    for code, *params in numerics:
        safe = [p if p and " " not in p and p[0] != ":" else "*" for p in params[:-1]]
        line = format_line(code, _NICK_SLOT, *safe, *params[-1:], source=server_name)
        lines.append(line.encode("utf-8", "replace") + b"\r\n")
    pieces = b"".join(lines).split(_NICK_SLOT.encode())
    return pieces if len(pieces) == len(numerics) + 1 else None


def _fill_nick(pieces: list[bytes], nick: str | None) -> bytes:
    return (nick or "*").encode("utf-8", "replace").join(pieces)
