"""The IRC server: listeners, the per-iteration flush, timeouts, the welcome burst."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from words import __version__
from words.irc import numerics as N
from words.irc.commands import load_handlers
from words.irc.connection import IRCConnection, user_prefix

if TYPE_CHECKING:
    from words.config import Config
    from words.cred import Portal
    from words.realm import WordsRealm

log = logging.getLogger("words.irc")

# How often idle and unregistered connections are checked.
_SWEEP_SECONDS = 1.0
# ISUPPORT tokens per 005 line (RFC 2812 practice: at most 13).
_TOKENS_PER_LINE = 13


class IRCServer:
    """Serves one words realm over IRC on one or more listening addresses."""

    def __init__(self, config: Config, realm: WordsRealm, portal: Portal) -> None:
        self.config = config
        self.realm = realm
        self.portal = portal
        self.name = config.server_name
        self.commands = load_handlers()
        self.connections: set[IRCConnection] = set()
        self.created = time.time()
        self._dirty: list[IRCConnection] = []
        self._flush_handle: asyncio.Handle | None = None
        self._servers: list[asyncio.Server] = []
        self._sweeper: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self.bound: list[tuple[str, int]] = []
        self.isupport = self._isupport_lines()

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> list[tuple[str, int]]:
        """Listen on every configured address; returns the bound (host, port) pairs."""
        loop = asyncio.get_running_loop()
        for listen in self.config.listen:
            server = await loop.create_server(
                lambda: IRCConnection(self), listen.host, listen.port, reuse_address=True
            )
            self._servers.append(server)
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                self.bound.append((host, port))
                log.info("listening on %s:%s", host, port)
        self._sweeper = loop.call_later(_SWEEP_SECONDS, self._sweep)
        return self.bound

    async def stop(self, reason: str = "Server shutting down") -> None:
        for server in self._servers:
            server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for conn in list(self.connections):
            conn.close(reason)
        for server in self._servers:
            await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        self._servers.clear()

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
        limits = self.config.limits
        now = time.monotonic()
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
        self._sweeper = asyncio.get_running_loop().call_later(_SWEEP_SECONDS, self._sweep)

    # -- the welcome burst ------------------------------------------------------------

    def _isupport_lines(self) -> list[list[str]]:
        limits = self.config.limits
        targets = limits.max_targets
        tokens = [
            f"CASEMAPPING={self.realm.casemapping}",
            f"CHANLIMIT=#:{limits.max_channels_per_user}",
            "CHANMODES=,,,nt",
            f"CHANNELLEN={limits.channellen}",
            "CHANTYPES=#",
            f"NETWORK={self.config.network}",
            f"NICKLEN={limits.nicklen}",
            "PREFIX=(ov)@+",
            f"TARGMAX=JOIN:,PART:,PRIVMSG:{targets},NOTICE:{targets},WHOIS:1,NAMES:1,LIST:",
            f"TOPICLEN={limits.topiclen}",
        ]
        return [tokens[i : i + _TOKENS_PER_LINE] for i in range(0, len(tokens), _TOKENS_PER_LINE)]

    def welcome(self, conn: IRCConnection) -> None:
        assert conn.user is not None
        conn.numeric(
            N.RPL_WELCOME,
            f"Welcome to the {self.config.network} IRC Network {user_prefix(conn.user)}",
        )
        conn.numeric(N.RPL_YOURHOST, f"Your host is {self.name}, running version words-{__version__}")
        created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.created))
        conn.numeric(N.RPL_CREATED, f"This server was created {created}")
        conn.numeric(N.RPL_MYINFO, self.name, f"words-{__version__}", "i", "nt", "ov")
        for tokens in self.isupport:
            conn.numeric(N.RPL_ISUPPORT, *tokens, "are supported by this server")
        self.send_lusers(conn)
        self.send_motd(conn)

    def send_lusers(self, conn: IRCConnection) -> None:
        users = sum(1 for c in self.connections if c.user is not None)
        unknown = len(self.connections) - users
        conn.numeric(N.RPL_LUSERCLIENT, f"There are {users} users and 0 invisible on 1 servers")
        if unknown:
            conn.numeric(N.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
        conn.numeric(N.RPL_LUSERCHANNELS, str(len(self.realm.groups)), "channels formed")
        conn.numeric(N.RPL_LUSERME, f"I have {users} clients and 0 servers")
        conn.numeric(N.RPL_LOCALUSERS, str(users), str(users), f"Current local users {users}, max {users}")
        conn.numeric(N.RPL_GLOBALUSERS, str(users), str(users), f"Current global users {users}, max {users}")

    def send_motd(self, conn: IRCConnection) -> None:
        motd = self.config.motd
        if not motd.strip():
            conn.numeric(N.ERR_NOMOTD, "MOTD File is missing")
            return
        conn.numeric(N.RPL_MOTDSTART, f"- {self.name} Message of the day - ")
        for line in motd.splitlines():
            conn.numeric(N.RPL_MOTD, f"- {line}")
        conn.numeric(N.RPL_ENDOFMOTD, "End of /MOTD command.")
