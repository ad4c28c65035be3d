"""One IRC client connection: an asyncio Protocol and the realm's mind for its user.

Bytes come in through `data_received`, are cut into lines, checked for
length, decoded and parsed, then dispatched through the command table.
Realm events come in through the ChatClient methods and are formatted once
per event (cached on the event) and queued; the server flushes every queue
once per loop iteration.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import itertools
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.codec import (
    MAX_CLIENT_TAGS_BYTES,
    ParseError,
    check_length,
    decode_line,
    format_line,
    parse_line,
)
from words.irc.connlimits import Admission, Refused
from words.irc.modes import USER_MODE_LETTERS, render_changes
from words.irc.tags import VARIANT_CAPS, label_lines, render_tags
from words.realm import ChatAvatar, DuplicateUser, Group, User
from words.realm.events import (
    AccountChanged,
    AwayChanged,
    Event,
    HostChanged,
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
from words.services.base import answering

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from words.config import Oper
    from words.irc.codec import Message
    from words.irc.handlers.sasl import SaslSession
    from words.irc.server import IRCServer

log = logging.getLogger("words.irc")

_ids = itertools.count(1)


class _Answer:
    """The answer being gathered for one labelled command (labeled-response).

    `lines` is what the client gets, `tasks` the tasks still answering (services'
    replies, a second history read), `owner` the task that sends the answer once
    they are done; `open` until it is sent.
    """

    __slots__ = ("conn", "label", "lines", "open", "owner", "tasks")

    def __init__(self, conn: IRCConnection, label: str) -> None:
        self.conn = conn
        self.label = label
        self.lines: list[bytes] = []
        self.tasks: list[asyncio.Task] = []
        self.owner: asyncio.Task | None = None
        self.open = True


# The answer of the labelled command being handled. A context variable, set while its
# handler runs: the tasks the handler starts inherit it, so what they send this client
# (and what the events they cause send it) joins the answer, never what other clients
# cause meanwhile.
_answer: contextvars.ContextVar[_Answer | None] = contextvars.ContextVar("answer", default=None)

# Lines held while a login or an OPER is checked; past this, reading pauses
# (the rest waits in the socket) until they are served.
_MAX_HELD = 64
# A client may send this much without a newline before we give up on the line.
_MAX_PARTIAL = 8191 + 512
# Every connection's capabilities until it enables one (CAP REQ replaces the set
# rather than changing it): most clients enable none, and an empty set is 216 bytes.
NO_CAPS: frozenset[str] = frozenset()
# Seconds a closed connection may take to hand over its last lines (the ERROR)
# before it is cut: a peer that reads nothing, or is gone without a FIN, would
# otherwise hold its socket and buffers for ever.
_CLOSE_GRACE = 5.0


def client_tags_too_long(raw: bytes) -> bool:
    """IRCv3 message-tags: a client's tag data (between '@' and the space) over 4094 bytes.

    Refused whole (417), whatever the command and the client's capabilities.
    """
    if not raw.startswith(b"@"):
        return False
    space = raw.find(b" ")
    return (space if space >= 0 else len(raw)) - 1 > MAX_CLIENT_TAGS_BYTES


def user_prefix(user: User) -> str:
    return f"{user.name}!{user.username}@{user.host}"


def ctcp_action(text: str) -> str | None:
    """The text of a CTCP ACTION (/me), or None if `text` is not one."""
    if text.startswith("\x01ACTION ") or text == "\x01ACTION\x01":
        return text[8:].rstrip("\x01")
    return None


class _ConnectionLog(logging.LoggerAdapter):
    """Gives every record the connection id and peer address (`conn`, `peer` attributes).

    words.logs shows them as "[conn#N host:port]" in text and as fields in JSON.
    """

    def process(self, msg, kwargs):
        kwargs["extra"] = self.extra
        return msg, kwargs


class IRCConnection(asyncio.Protocol):
    __slots__ = (
        "server", "transport", "conn_id", "peer_host", "peer_port",
        "_buffer", "out", "nick", "username", "realname", "password",
        "cap_negotiating", "avatar", "user", "last_activity", "ping_sent",
        "connected_at", "closing", "_logging_in", "_held", "_holds", "_paused", "oper",
        "_flood_until", "_lagged", "_lag_handle", "_admission", "_discarding", "_abort_handle",
        "caps", "cap_version", "sasl", "render_key", "render_variant", "_batches", "_answering",
        "_multiline",
    )

    def __init__(self, server: IRCServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.conn_id = next(_ids)
        self.peer_host = ""
        self.peer_port = 0
        self._buffer = b""
        self._discarding = False  # dropping the rest of an overlong line
        # What waits for the next flush; None when nothing does (most idle clients).
        self.out: list[bytes] | None = None
        self.nick: str | None = None
        self.username: str | None = None
        self.realname = ""
        self.password: str | None = None
        self.cap_negotiating = False
        self.avatar: ChatAvatar | None = None
        self.user: User | None = None  # set once registered
        now = time.monotonic()
        self.last_activity = now
        self.connected_at = now
        self.ping_sent: float | None = None
        self.closing = False
        self._logging_in = False
        # Lines that arrive while the login runs wait here, in order, so a
        # client that sends JOIN right after USER is served as if it waited
        # (a list while some wait).
        self._held: list[bytes] | None = None
        self._holds = 0  # tasks (OPER, ...) whose answer later lines must wait for
        self._paused = False  # reading paused while too many lines wait
        self.oper: Oper | None = None  # set by a successful OPER
        self.caps: frozenset[str] = NO_CAPS  # IRCv3 capabilities this client enabled
        self.cap_version = 301
        # Which bytes of a shared event this client takes (see caps_changed): the key of
        # event.rendered (a str: its hash is cached, it is looked up once per delivery).
        self.render_key = "irc"
        self.render_variant: tuple[bool, ...] | None = None
        # Whether `out` may hold an entry of several lines (from write()): the flush then
        # counts them; a message's fan-out appends single lines only (receive_all).
        self._multiline = False
        self._batches = 0  # batch references made for this client
        # Labelled answers (labeled-response) not sent yet: while there are, write()
        # looks for the one it may belong to.
        self._answering = 0
        self.sasl: SaslSession | None = None  # an AUTHENTICATE exchange under way
        # Input pacing: a token bucket (_take_token); lines without a token wait in _lagged.
        self._flood_until = 0.0
        self._lagged: deque[bytes] | None = None  # made on the first lagged line
        self._lag_handle: asyncio.TimerHandle | None = None
        self._admission: Admission | None = None  # what it counts against the connection caps
        self._abort_handle: asyncio.TimerHandle | None = None  # cuts a close that does not finish

    @property
    def log(self) -> logging.LoggerAdapter:
        """A logger that names this connection; made when used (logging is rare, clients many)."""
        peer = f"{self.peer_host}:{self.peer_port}" if self.peer_host else None
        return _ConnectionLog(log, {"conn": self.conn_id, "peer": peer})

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (asyncio's, or uvloop's, which is not an asyncio.Transport subclass).
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("?", 0)
        self.peer_host, self.peer_port = str(peer[0]), int(peer[1])
        if self.peer_host.startswith(":"):
            # "::1" cannot be a middle parameter (WHOIS, WHO): write it "0::1", as ircds do.
            self.peer_host = "0" + self.peer_host
        server = self.server
        server.connections.add(self)
        server.connections_total += 1
        self.log.info("connected")
        dline = server.bans.find_dline(self.peer_host)
        if dline is not None:
            self.close(f"D-lined: {dline.reason}")
            return
        limits = server.config.limits
        if len(server.connections) > limits.max_clients:
            self.close("Too many clients on this server; try again later")
            return
        try:
            self._admission = server.conn_limits.admit(str(peer[0]), limits, time.monotonic())
        except Refused as refused:
            self.close(str(refused))

    def data_received(self, data: bytes) -> None:
        self.last_activity = time.monotonic()
        self.ping_sent = None
        buffer = self._buffer + data if self._buffer else data
        lines = buffer.split(b"\n")
        self._buffer = lines.pop()
        server = self.server  # metrics: two adds per read
        server.lines_in += len(lines)
        server.bytes_in += len(data)
        if self._discarding and lines:
            # The end of a line already refused as too long: not a command.
            del lines[0]
            self._discarding = False
        for raw in lines:
            if self.closing:
                return
            if self._logging_in or self._holds:
                self._hold(raw)
                continue
            if self._lagged or not self._take_token():
                self._lag(raw)
                continue
            self.line_received(raw)
        if len(self._buffer) > _MAX_PARTIAL:
            self._buffer = b""
            if not self._discarding:  # one 417 per line, however long it goes on
                self._discarding = True
                self.numeric(N.ERR_INPUTTOOLONG, "Input line was too long")

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        admission, self._admission = self._admission, None
        if admission is not None:
            self.server.conn_limits.release(admission)
        if self._lag_handle is not None:
            self._lag_handle.cancel()
        if self._abort_handle is not None:
            self._abort_handle.cancel()
            self._abort_handle = None
        reason = "Connection closed" if exc is None else f"Connection error: {exc}"
        self.log.info("disconnected (%s)", reason)
        self._sign_off(reason)
        self.closing = True

    # -- input pacing ("fakelag") ------------------------------------------------

    def _take_token(self) -> bool:
        """A token bucket of flood_burst lines refilled at flood_rate, kept as one number
        (GCRA): `_flood_until`, when the bucket is full again. A line may pass while that
        is at most flood_burst - 1 line intervals ahead; each line moves it one interval on."""
        if self.oper is not None:
            return True  # operators are trusted not to flood
        limits = self.server.config.limits
        now = time.monotonic()
        interval = 1.0 / limits.flood_rate
        full_at = max(now, self._flood_until)
        if full_at - now > (limits.flood_burst - 1) * interval:
            return False
        self._flood_until = full_at + interval
        return True

    def _token_wait(self) -> float:
        """Seconds until _take_token lets a line pass again."""
        limits = self.server.config.limits
        return max(0.0, self._flood_until - (limits.flood_burst - 1) / limits.flood_rate - time.monotonic())

    def _lag(self, raw: bytes) -> None:
        """Hold a line until the bucket has a token: a flood slows down before it is cut off."""
        if self._lagged is None:
            self._lagged = deque()
        self._lagged.append(raw)
        limits = self.server.config.limits
        if len(self._lagged) > limits.flood_max_queued:
            self._lagged.clear()
            self.close("Excess Flood")
            return
        if self._lag_handle is None:
            self._lag_handle = asyncio.get_running_loop().call_later(self._token_wait(), self._drain_lagged)

    def _drain_lagged(self) -> None:
        self._lag_handle = None
        while self._lagged and not self.closing:
            if not self._take_token():
                self._lag_handle = asyncio.get_running_loop().call_later(self._token_wait(), self._drain_lagged)
                return
            raw = self._lagged.popleft()
            if self._logging_in or self._holds:
                self._hold(raw)
            else:
                self.line_received(raw)

    # -- holding input while an answer is worked out off the loop -----------------

    def _hold(self, raw: bytes) -> None:
        held = self._held
        if held is None:
            held = self._held = []
        held.append(raw)
        if len(held) >= _MAX_HELD and self.transport is not None and not self._paused:
            # Enough waiting here: let the kernel and the client hold the rest.
            self._paused = True
            self.transport.pause_reading()

    def run_holding_input(self, coro) -> None:
        """Run `coro` as a task; lines that arrive meanwhile are served after it, in order.

        A client that pipelines (OPER then WALLOPS) sees its commands answered
        as if it had waited for each reply.
        """
        self._holds += 1
        # In a context of its own: the held lines are not part of this command's answer.
        self.answer_later(coro).add_done_callback(self._release_input,
                                                  context=contextvars.Context())

    def answer_later(self, coro) -> asyncio.Task:
        """Run `coro`, (part of) the answer of the command being handled, as a task.

        For a labelled command (labeled-response), what the task sends this client
        joins the command's answer, sent labelled when this task and every other one
        answering the command are done: the first such task sends it (its done
        callbacks run after that), the others are waited for.
        """
        loop = asyncio.get_running_loop()
        answer = _answer.get()
        if answer is None or not answer.open or answer.conn is not self:
            task = loop.create_task(coro)
        elif answer.owner is None:
            task = answer.owner = loop.create_task(self._answered(answer, coro))
        else:
            task = loop.create_task(coro)
            answer.tasks.append(task)
        self.server.track(task)
        return task

    async def _answered(self, answer: _Answer, coro) -> None:
        """Run `coro` (if any), wait for the other tasks answering, then send the answer."""
        try:
            if coro is not None:
                await coro
            while answer.tasks:
                await asyncio.wait([answer.tasks.pop(0)])
        finally:
            self._send_answer(answer)

    def _send_answer(self, answer: _Answer) -> None:
        """Queue the whole answer: one line labelled, several in a batch, none an ACK."""
        answer.open = False
        self._answering -= 1
        data = b"".join(answer.lines)
        self._queue(label_lines(data, answer.label, self.new_batch_ref("L"), self.server.name))

    def _release_input(self, _task: asyncio.Task) -> None:
        self._holds -= 1
        self._replay_held()

    def _replay_held(self) -> None:
        # A replayed line may start another hold: the rest waits for that one.
        while self._held and not self.closing and not (self._holds or self._logging_in):
            self.line_received(self._held.pop(0))
        if self._held == []:
            self._held = None
        if self._paused and not self._held and not self.closing and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    # -- input -----------------------------------------------------------------

    def line_received(self, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.strip():
            return  # empty lines are allowed and ignored
        if check_length(raw) is not None or (
            len(raw) > MAX_CLIENT_TAGS_BYTES + 2 and client_tags_too_long(raw)
        ):
            self.numeric(N.ERR_INPUTTOOLONG, "Input line was too long")
            return
        if b"\0" in raw or b"\r" in raw:
            # NUL and CR can never be relayed (RFC 1459); drop the line, keep the client.
            self.log.debug("dropped a line with a NUL or CR byte")
            return
        if self.server.config.utf8_only:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._invalid_utf8(raw)
                return
        else:
            line = decode_line(raw)
        try:
            msg = parse_line(line)
        except ParseError:
            return
        self.dispatch(msg)

    def _invalid_utf8(self, raw: bytes) -> None:
        """UTF8ONLY: a line that is not UTF-8 is refused whole, never relayed.

        `FAIL <command> INVALID_UTF8` (standard-replies clients) or a NOTICE
        (the others); labelled like any answer. A QUIT still quits, without
        its reason.
        """
        try:
            msg: Message | None = parse_line(raw.decode("latin-1"))
        except ParseError:
            msg = None
        command = msg.command.upper() if msg is not None else "*"
        if not (command.isascii() and command.isalnum()):
            command = "*"
        if command == "QUIT":
            self.dispatch(parse_line("QUIT"))
            return

        def refuse(_msg: Message | None) -> None:
            text = "Message rejected, your IRC software MUST use UTF-8 encoding on this network"
            if "standard-replies" in self.caps:
                self.send("FAIL", command, "INVALID_UTF8", text, source=self.server.name)
            else:
                self.notice(f"*** {command}: {text}" if command != "*" else f"*** {text}")

        label = msg.tags.get("label") if msg is not None and msg.tags else None
        if label is not None and "labeled-response" in self.caps and "batch" in self.caps:
            self._dispatch_labeled(msg, label, refuse)
        else:
            refuse(msg)

    def dispatch(self, msg: Message) -> None:
        tags = msg.tags
        if tags and "label" in tags and "labeled-response" in self.caps and "batch" in self.caps:
            self._dispatch_labeled(msg, tags["label"])
        else:
            self._dispatch(msg)

    def _dispatch_labeled(
        self, msg: Message, label: str, run: Callable[[Message], None] | None = None
    ) -> None:
        """labeled-response: the command's answer is sent with its label.

        Everything written to this client while the handler runs, and by the tasks
        it starts (answer_later; a service's reply, see words.services.base.answering)
        until they are done, is its answer; it is sent labelled (one line), in a
        `labeled-response` batch (several) or as a labelled ACK (none).
        """
        answer = _Answer(self, label)
        saved, self.out = self.out, answer.lines  # what is queued directly joins it too
        self._answering += 1
        token = _answer.set(answer)
        replies = answering.set(answer.tasks)
        try:
            (run or self._dispatch)(msg)
        finally:
            answering.reset(replies)
            _answer.reset(token)
            self.out = saved
            if answer.owner is None:
                if answer.tasks:  # only services answer later: wait for them
                    answer.owner = asyncio.get_running_loop().create_task(
                        self._answered(answer, None))
                    self.server.track(answer.owner)
                else:
                    self._send_answer(answer)

    def _dispatch(self, msg: Message) -> None:
        name = msg.command.upper()
        entry = self.server.commands.get(name)
        if entry is None:
            if self.user is not None:
                self.numeric(N.ERR_UNKNOWNCOMMAND, msg.command, "Unknown command")
            else:
                self.numeric(N.ERR_NOTREGISTERED, "You have not registered")
            return
        if entry.needs_registration and self.user is None:
            self.numeric(N.ERR_NOTREGISTERED, "You have not registered")
            return
        if len(msg.params) < entry.min_params:
            self.numeric(N.ERR_NEEDMOREPARAMS, name, "Not enough parameters")
            return
        self.server.command_counts[name] += 1  # STATS m
        try:
            entry.handler(self, msg)
        except Exception:
            # A bug in one handler must not take the connection down.
            self.log.exception("handler for %s failed", name)

    # -- output ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Queue bytes; the server writes every queue once per loop iteration.

        Bytes that answer a labelled command still being answered join that answer.
        """
        if self._answering:
            answer = _answer.get()
            if answer is not None and answer.open and answer.conn is self:
                answer.lines.append(data)
                return
        self._queue(data)

    def _queue(self, data: bytes) -> None:
        if self.closing:
            return
        out = self.out
        if out is None:
            self.out = [data]
            self.server.schedule_flush(self)
        else:
            out.append(data)
        self._multiline = True

    def new_batch_ref(self, prefix: str) -> str:
        """A batch reference unique on this connection."""
        self._batches += 1
        return f"{prefix}{self._batches}"

    def send(self, command: str, *params: str, source: str | None = None) -> None:
        line = format_line(command, *params, source=source)
        self.write(line.encode("utf-8", "replace") + b"\r\n")

    def send_lines(self, data: bytes) -> None:
        """Queue lines already rendered (each ending in CR LF) as send() queues its line."""
        self.write(data)

    def numeric(self, code: str, *params: str) -> None:
        # Middle parameters often echo what the client sent; one that is empty,
        # holds a space or starts with ':' cannot be sent, so it becomes '*'.
        safe = [p if p and " " not in p and p[0] != ":" else "*" for p in params[:-1]]
        self.send(code, self.nick or "*", *safe, *params[-1:], source=self.server.name)

    def notice(self, text: str) -> None:
        self.send("NOTICE", self.nick or "*", text, source=self.server.name)

    def flush(self) -> None:
        transport = self.transport
        if transport is None or not self.out:
            return
        data = self._take_output()
        transport.write(data)
        if transport.get_write_buffer_size() > self.server.config.limits.sendq:
            self.server.sendq_disconnects += 1
            self.close("SendQ exceeded")
            # It does not read: close() would wait for the buffer to drain forever.
            transport.abort()

    def close(self, reason: str) -> None:
        """Say goodbye with an ERROR line, flush it, and drop the connection."""
        if self.closing:
            return
        self.log.info("closing: %s", reason)
        # Never held back in an answer: the client is told why it goes, whatever it asked.
        self._queue(format_line("ERROR", f"Closing Link: {self.peer_host} ({reason})").encode() + b"\r\n")
        self.flush_now()
        self.closing = True
        self._sign_off(reason)
        if self.transport is not None:
            self.transport.close()
            if self._abort_handle is None:
                self._abort_handle = asyncio.get_running_loop().call_later(_CLOSE_GRACE, self._abort)

    def _abort(self) -> None:
        """The close did not finish in _CLOSE_GRACE seconds: drop what is unsent and cut."""
        self._abort_handle = None
        if self.transport is not None and self in self.server.connections:
            self.log.info("the peer took no data for %s s after the close: cut", _CLOSE_GRACE)
            self.transport.abort()

    def flush_now(self) -> None:
        if self.transport is not None and self.out:
            self.transport.write(self._take_output())

    def _take_output(self) -> bytes:
        """The queued bytes, counted for metrics (per flush, not per line or recipient)."""
        out, server = self.out, self.server
        if out is None:
            return b""
        self.out = None
        data = b"".join(out)
        server.deliveries += len(out)
        if self._multiline:
            server.lines_out += data.count(b"\n")
            self._multiline = False
        else:
            server.lines_out += len(out)  # single lines only: no need to scan the bytes
        server.bytes_out += len(data)
        out.clear()  # it may be a labelled answer's list (_dispatch_labeled): taken, not sent twice
        return data

    def _sign_off(self, reason: str) -> None:
        if self.user is not None:
            self.server.local_users -= 1
        self.server.monitors.clear(self)  # a MONITOR list ends with its connection
        avatar, self.avatar, self.user = self.avatar, None, None
        if avatar is not None:
            avatar.logout(reason)

    # -- registration -------------------------------------------------------------

    def try_register(self) -> None:
        """Log in once NICK and USER are in and CAP negotiation is over."""
        if self.user is not None or self._logging_in or self.cap_negotiating:
            return
        if self.nick is None or self.username is None:
            return
        kline = self.server.bans.find_kline(self.username, [self.peer_host, self.visible_host])
        if kline is not None:
            self.close(f"K-lined: {kline.reason}")
            return
        if self.avatar is not None:  # logged in already; only the nick was taken
            self._sign_on()
            return
        if self.password is None and self.server.config.require_account:
            from words.irc.handlers.registration import refuse_without_account

            refuse_without_account(self)
            return
        self._logging_in = True
        task = asyncio.get_running_loop().create_task(self._login())
        self.server.track(task)

    async def _login(self) -> None:
        from words.cred import (
            Anonymous,
            LoginFailed,
            LoginThrottled,
            UnhandledCredentials,
            UsernamePassword,
        )
        from words.store.database import StoreError

        assert self.nick is not None
        if self.password is None:
            credentials: object = Anonymous(self.nick)
        else:
            account, sep, password = self.password.partition(":")
            if not sep:  # PASS password: the account is the nick
                account, password = self.nick, self.password
            credentials = UsernamePassword(account, password)
        self.password = None  # no secret stays around longer than needed
        try:
            _, avatar, logout = await self.server.portal.login(
                credentials, self, ChatAvatar, address=self.peer_host
            )
        except LoginThrottled:
            self._logging_in = False
            self.numeric(N.ERR_PASSWDMISMATCH, "Too many failed logins; try again later")
            self.close("Too many failed logins")
            return
        except UnhandledCredentials:
            self._logging_in = False
            self.numeric(N.ERR_PASSWDMISMATCH, "Password required")
            self.close("Password required")
            return
        except LoginFailed:
            self._logging_in = False
            self.log.info("login failed for %s", getattr(credentials, "username", self.nick))
            self.numeric(N.ERR_PASSWDMISMATCH, "Password incorrect")
            self.close("Bad password")
            return
        except StoreError:
            # The accounts' database is away: no verdict on the password, so no 464.
            self._logging_in = False
            self.log.error("login of %s not checked: the database is unavailable",
                           getattr(credentials, "username", self.nick))
            self.notice("*** Accounts are unavailable right now (the database is down); "
                        "try again later, or connect without a password")
            self.close("Accounts unavailable, try again later")
            return
        self._logging_in = False
        if self.closing:
            logout()
            return
        assert isinstance(avatar, ChatAvatar)
        if not isinstance(credentials, UsernamePassword):
            avatar.account = ""  # anonymous: the avatar ID is only the nick asked for
        self.avatar = avatar
        self._sign_on()
        self._replay_held()

    def _sign_on(self) -> None:
        cluster = getattr(self.server, "cluster", None)
        if cluster is not None:
            # Another node may hold the nick: claim it across the network first (433 if taken).
            self.run_holding_input(cluster.sign_on_claimed(self))
            return
        self.sign_on_now()

    def sign_on_now(self) -> None:
        assert self.avatar is not None and self.nick is not None and self.username is not None
        try:
            user = self.avatar.sign_on(
                self.nick,
                account=self.avatar.account or None,
                username=self.username,
                host=self.visible_host,
                real_host=self.peer_host,
                realname=self.realname,
                certificate=self.certificate_fingerprint(),
            )
        except DuplicateUser:
            self.numeric(N.ERR_NICKNAMEINUSE, self.nick, "Nickname is already in use")
            return
        self.user = user
        self.log.info("registered as %s", user_prefix(user))
        self.server.welcome(self)

    # -- the realm's mind (ChatClient) --------------------------------------------

    def receive(self, event: Said) -> None:
        # The hot path of a channel message: once the first recipient of this variant
        # rendered it, one dict lookup and write() inlined (a call less per recipient).
        data = event.rendered.get(self.render_key)
        if data is not None:
            if not self.closing:
                out = self.out
                if out is None:
                    self.out = [data]
                    self.server.schedule_flush(self)
                else:
                    out.append(data)
            return
        name = event.target.name
        if event.to_status:
            name = ("@" if event.to_status == "o" else "+") + name
        if event.kind == "tagmsg":
            # Only for message-tags clients; the others' key never gets these bytes.
            if "message-tags" in self.caps:
                self._emit(event, event.sender, "TAGMSG", name)
            return
        text = event.text
        if event.action:
            text = f"\x01ACTION {text}\x01" if text else "\x01ACTION\x01"
        command = "NOTICE" if event.kind == "notice" else "PRIVMSG"
        self._emit(event, event.sender, command, name, text)

    @staticmethod
    def receive_all(conns: Iterable[IRCConnection], event: Said) -> None:
        """receive() for each of `conns`, in one call: a channel message's fan-out.

        The realm hands each run of IRC connections among an event's recipients
        over at once (WordsRealm._tell). Past the first recipient of each variant,
        which renders the line, a recipient costs a dict lookup and an append.
        """
        get = event.rendered.get
        for conn in conns:
            try:
                data = get(conn.render_key)
                if data is None:
                    conn.receive(event)
                elif not conn.closing:
                    out = conn.out
                    if out is None:
                        conn.out = [data]
                        conn.server.schedule_flush(conn)
                    else:
                        out.append(data)
            except Exception:  # one connection's failure must not stop the others'
                log.exception("%r failed on a message", conn)

    def user_joined(self, event: Joined) -> None:
        user = event.user
        if "extended-join" in self.caps:  # part of the render key: these bytes are apart
            self._emit(event, user, "JOIN", event.group.name, user.account or "*", user.realname)
        else:
            self._emit(event, user, "JOIN", event.group.name)
        if user.away is not None and user is not self.user and "away-notify" in self.caps:
            # away-notify: a user who joins while away says so right after the JOIN.
            key = ("away", self.render_key)
            data = event.rendered.get(key)
            if data is None:
                data = self._render(event, user, [("AWAY", user.away)], key, msgid=False)
            self.write(data)

    def user_left(self, event: Left) -> None:
        params = (event.group.name, event.reason) if event.reason else (event.group.name,)
        self._emit(event, event.user, "PART", *params)

    def user_quit(self, event: Quit) -> None:
        self._emit(event, event.user, "QUIT", event.reason)

    def user_renamed(self, event: Renamed) -> None:
        user = event.user
        if user is self.user:
            self.nick = event.new_name  # also when renamed by someone else (NickServ)
        self._emit(event, f"{event.old_name}!{user.username}@{user.host}", "NICK", event.new_name)

    def group_meta_update(self, event: MetaChanged) -> None:
        if "topic" in event.changes:
            self._emit(event, event.by, "TOPIC", event.group.name, event.changes["topic"])

    def group_settings_changed(self, event: SettingsChanged) -> None:
        max_params = self.server.config.limits.max_modes
        lines = [("MODE", event.group.name, *params)
                 for params in render_changes(event.changes, max_params)]
        self._emit_lines(event, event.by, lines)

    def user_kicked(self, event: Kicked) -> None:
        reason = event.reason or event.user.name
        self._emit(event, event.by, "KICK", event.group.name, event.user.name, reason)

    def user_invited(self, event: Invited) -> None:
        # The invited user, and operators of the channel with invite-notify.
        if event.user is self.user or "invite-notify" in self.caps:
            self._emit(event, event.by, "INVITE", event.user.name, event.group.name)

    def user_away_changed(self, event: AwayChanged) -> None:
        if "away-notify" in self.caps:
            params = (event.message,) if event.message is not None else ()
            self._emit(event, event.user, "AWAY", *params)

    def user_realname_changed(self, event: RealnameChanged) -> None:
        if "setname" in self.caps:
            self._emit(event, event.user, "SETNAME", event.realname)

    def user_host_changed(self, event: HostChanged) -> None:
        """chghost: CHGHOST from the old mask; without it, a QUIT and JOINs as from a new client."""
        user = event.user
        old_mask = f"{user.name}!{event.old_username}@{event.old_host}"
        if "chghost" in self.caps:
            self._emit(event, old_mask, "CHGHOST", event.username, event.host)
        elif user is self.user:
            # The user itself cannot see itself quit: it is told its new host instead.
            self.numeric(N.RPL_HOSTHIDDEN, event.host, "is now your displayed host")
        else:
            self._host_change_fallback(event, old_mask)

    def _host_change_fallback(self, event: HostChanged, old_mask: str) -> None:
        """IRCv3 chghost's fallback: QUIT, then for each shared channel JOIN and its MODE.

        What each client gets depends on the channels it shares with the user,
        so these lines are made for this client alone (host changes are rare).
        """
        user, me = event.user, self.user
        key = ("chghost-fallback", self.conn_id)
        # Stand-ins for the CHGHOST the client cannot read: none of them is that event.
        data = [self._render(event, old_mask, [("QUIT", "Changing host")], key, msgid=False)]
        extended = "extended-join" in self.caps
        for group in user.groups.values():
            if me not in group.members:
                continue
            join = ("JOIN", group.name, user.account or "*", user.realname) if extended else (
                "JOIN", group.name)
            data.append(self._render(event, user, [join], key, msgid=False))
            status = group.members.get(user, "")
            if status:
                letters = "".join(c for c in "ov" if c in status)
                mode = ("MODE", group.name, "+" + letters, *[user.name] * len(letters))
                data.append(self._render(event, None, [mode], key, msgid=False))
            if user.away is not None and "away-notify" in self.caps:
                data.append(self._render(event, user, [("AWAY", user.away)], key, msgid=False))
        event.rendered.pop(key, None)
        self.write(b"".join(data))

    def user_flags_changed(self, event: UserFlagsChanged) -> None:
        user = event.user
        text, sign = "", ""
        for flag, add in event.changes:
            want = "+" if add else "-"
            if want != sign:
                text += want
                sign = want
            text += USER_MODE_LETTERS[flag]
        source = event.by if event.by is not None and event.by is not user else user.name
        self._emit(event, source, "MODE", user.name, text)

    def wallops(self, event: Wallops) -> None:
        self._emit(event, event.sender, "WALLOPS", event.text)

    def account_changed(self, event: AccountChanged) -> None:
        """This client logged in (900) or out (901): NickServ, REGISTER; ACCOUNT for account-notify."""
        user = event.user
        if "account-notify" in self.caps:  # itself included
            self._emit(event, user, "ACCOUNT", event.account or "*")
        if user is not self.user:
            return
        if event.account:
            self.numeric(N.RPL_LOGGEDIN, user_prefix(user), event.account,
                         f"You are now logged in as {event.account}")
        else:
            self.numeric(N.RPL_LOGGEDOUT, user_prefix(user), "You are now logged out")

    # -- rendering: once per event and tag variant, shared by every recipient ------------

    def _emit(self, event: Event, source: User | str | None, command: str, *params: str) -> None:
        data = event.rendered.get(self.render_key)
        if data is None:
            data = self._render(event, source, [(command, *params)])
        self.write(data)

    def _emit_lines(
        self, event: Event, source: User | str | None, lines: list[tuple[str, ...]]
    ) -> None:
        """Write `lines` from `source` (a user, a prefix, or None for the server).

        The bytes are made once per event for each tag variant (which of
        server-time, message-tags and account-tag a client enabled) and the
        same bytes go to every recipient with that variant.
        """
        data = event.rendered.get(self.render_key)
        if data is None:
            data = self._render(event, source, lines)
        self.write(data)

    def _render(
        self, event: Event, source: User | str | None, lines: list[tuple[str, ...]],
        key: object | None = None, *, msgid: bool = True,
    ) -> bytes:
        """Format `lines` for this client's variant and keep them on the event under `key`.

        The event's msgid goes on its first line only (a msgid names one message: a
        MODE split over several lines is one event); `msgid` False: on none of them.
        """
        variant = self.render_variant
        if key is None:
            key = self.render_key
        if source is None:
            prefix = self.server.name
        elif isinstance(source, str):
            prefix = source
        else:
            prefix = user_prefix(source)
        tags = render_tags(event, source, variant, msgid) if variant else None
        first, *rest = lines
        data = format_line(*first, source=prefix, tags=tags).encode("utf-8", "replace") + b"\r\n"
        if rest:
            if tags:
                tags = {name: value for name, value in tags.items() if name != "msgid"} or None
            data += b"".join(
                format_line(*line, source=prefix, tags=tags).encode("utf-8", "replace") + b"\r\n"
                for line in rest
            )
        event.rendered[key] = data
        return data

    def caps_changed(self) -> None:
        """Recompute what depends on the enabled capabilities (CAP ACK calls this).

        The variant is each capability that changes the bytes of a shared line:
        the tags, and extended-join (the JOIN line itself).
        """
        caps = self.caps
        variant = tuple(cap in caps for cap in VARIANT_CAPS)
        if any(variant):
            self.render_variant = variant
            self.render_key = "irc:" + "".join("1" if on else "0" for on in variant)
        else:
            self.render_variant = None
            self.render_key = "irc"

    # -- helpers for handlers ---------------------------------------------------------

    def prefixes(self, group: Group, user: User) -> str:
        """The highest status prefix of `user` in `group` ('@', '+' or ''); all of them
        ('@+') for a client with multi-prefix."""
        status = group.members.get(user, "")
        if "multi-prefix" in self.caps:
            return ("@" if "o" in status else "") + ("+" if "v" in status else "")
        if "o" in status:
            return "@"
        if "v" in status:
            return "+"
        return ""

    @property
    def visible_host(self) -> str:
        """The host others see: a cloak of the address when the config cloaks, else the address."""
        cloak = self.server.config.cloak
        if cloak is None:
            return self.peer_host
        from words.irc.cloak import cloak_host

        return cloak_host(self.peer_host, cloak.secret, cloak.suffix)

    @property
    def secure(self) -> bool:
        """Whether this connection came through a TLS listener."""
        return self.transport is not None and self.transport.get_extra_info("ssl_object") is not None

    def certificate_fingerprint(self) -> str | None:
        """SHA-256 (lower-case hex) of the client's TLS certificate, if it sent one."""
        if self.transport is None:
            return None
        ssl_object = self.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        return hashlib.sha256(der).hexdigest() if der else None

    def is_chanop(self, group: Group) -> bool:
        """May this client change `group`: a channel operator, or an oper allowed to override."""
        user = self.user
        if user is None:
            return False
        if "o" in group.members.get(user, ""):
            return True
        return self.overrides(group, "acts as channel operator")

    def overrides(self, group: Group, what: str) -> bool:
        """May this oper pass `group`'s rules (its block's `override: true`)? Logged when so."""
        oper = self.oper
        if oper is None or not oper.override:
            return False
        self.log.info("oper override by %s (oper %s): %s on %s", self.nick, oper.name, what, group.name)
        return True

    def __repr__(self) -> str:
        return f"<IRCConnection #{self.conn_id} {self.nick or '*'} {self.peer_host}:{self.peer_port}>"
