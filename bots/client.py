"""IRCClient: Twisted's IRC client protocol on asyncio, in snake_case.

One instance is one bot identity. It is an asyncio Protocol, and may be
reused across connections (the connector does so to reconnect): each
connection_made starts fresh per-connection state, while the channels the bot
wants to be in survive and are rejoined.

Override the event methods (plain or `async`); call the command methods.
Every outgoing line passes the limiter; long texts are split by bytes.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
import time
from collections.abc import Callable, Iterable

from bots import sasl as sasl_mod
from bots.limiter import DEFAULT_BURST, DEFAULT_RATE, SendQueue, TokenBucket
from bots.split import split_text, text_budget
from bots.state import Channel, ISupport, User
from words.cred.credentials import UsernamePassword
from words.irc.codec import (
    Message,
    ParseError,
    decode_line,
    format_line,
    parse_line,
    split_source,
)

__all__ = ["CHANNEL_PREFIXES", "DEFAULT_CAPS", "IRCClient"]

log = logging.getLogger("bots.client")

# Requested when the server offers them; everything else works without.
DEFAULT_CAPS = (
    "server-time", "message-tags", "multi-prefix", "account-tag", "extended-join",
    "away-notify", "account-notify", "echo-message", "batch", "cap-notify",
    "userhost-in-names", "chghost",
)
# As Twisted: a channel name without one of these gets a '#'.
CHANNEL_PREFIXES = "&#!+"
# A line longer than this without LF is garbage: drop it rather than buffer forever.
_MAX_BUFFER = 16384
_CTCP = "\x01"


class IRCClient(asyncio.Protocol):
    """An IRC client connection with Twisted's event methods."""

    version_name = "words-bots"
    version_num = "0.1"

    def __init__(
        self,
        nickname: str = "irc",
        *,
        username: str | None = None,
        realname: str | None = None,
        password: str | None = None,
        sasl_mechanism: str | None = None,
        sasl_credentials: UsernamePassword | None = None,
        sasl_required: bool = True,
        caps: Iterable[str] = DEFAULT_CAPS,
        burst: float = DEFAULT_BURST,
        rate: float = DEFAULT_RATE,
        ctcp_burst: float = 3,
        ctcp_rate: float = 0.2,
    ) -> None:
        self.nickname = nickname
        self.username = username or nickname
        self.realname = realname or nickname
        self.password = password
        self.sasl_mechanism = sasl_mechanism
        self.sasl_credentials = sasl_credentials
        self.sasl_required = sasl_required
        self.wanted_caps = tuple(caps)
        self.burst, self.rate = burst, rate
        # CTCP auto-replies have their own, stricter budget: anyone can ask.
        self.ctcp_bucket = TokenBucket(ctcp_burst, ctcp_rate)
        # Survives reconnections: the channels to be in (folded -> name).
        self.wanted_channels: dict[str, str] = {}
        self.tasks: set[asyncio.Task] = set()
        self.fatal_error: str | None = None  # set: do not reconnect
        self.quitting = False
        self.connections = 0
        # Set by the connector for TLS pinning: checked before a single byte
        # (PASS included) is sent; raising refuses the server for good.
        self.transport_check: Callable[[asyncio.BaseTransport], None] | None = None
        self.signed_on_event = asyncio.Event()
        self.closed_event = asyncio.Event()
        self.closed_event.set()
        self._reset()

    # -- per-connection state ---------------------------------------------------------

    def _reset(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self.isupport = ISupport()
        self.caps: set[str] = set()
        self.offered_caps: dict[str, str] = {}
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.userhost: str | None = None  # "user@host" as the server relays us
        self.account: str | None = None
        self.registered = False
        self.is_signed_on = False
        self.error_message: str | None = None
        self._pending_names: dict[str, dict[str, str]] = {}
        self._joining: set[str] = set()
        self._cap_ls: dict[str, str] = {}
        self._sasl = None
        self._sasl_buffer = ""
        self._cap_end_sent = False
        self.queue = SendQueue(self._write, TokenBucket(self.burst, self.rate))

    # -- asyncio Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        self._reset()
        self.transport = transport  # type: ignore[assignment]
        self.connections += 1
        self.quitting = False
        self.signed_on_event.clear()
        self.closed_event.clear()
        if self.transport_check is not None:
            try:
                self.transport_check(transport)
            except Exception as e:
                self.fatal_error = str(e)
                log.error("%s", e)
                transport.close()
                return
        self.register()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > _MAX_BUFFER:
            log.warning("dropping %d bytes without a line end", len(self._buffer))
            self._buffer = b""
        for raw in lines:
            raw = raw.rstrip(b"\r")
            if not raw.strip(b" "):
                continue
            try:
                msg = parse_line(decode_line(raw))
            except ParseError:
                log.warning("ignoring unparsable line %r", raw[:100])
                continue
            self.handle_message(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        self.queue.clear()
        self.transport = None
        self.is_signed_on = False
        self.signed_on_event.clear()
        self.closed_event.set()
        self._fire("connection_closed", exc)

    async def wait_closed(self) -> None:
        await self.closed_event.wait()

    # -- dispatch ----------------------------------------------------------------------

    def _fire(self, name: str, *args) -> None:
        self._call(getattr(self, name), *args)

    def _call(self, func, *args) -> None:
        """Call an event method; an `async` one runs as a tracked task. Errors are logged."""
        name = getattr(func, "__name__", repr(func))
        try:
            result = func(*args)
        except Exception:
            log.exception("error in %s", name)
            return
        if inspect.isawaitable(result):
            self.spawn(result, name=name)

    def spawn(self, coro, name: str | None = None) -> asyncio.Task:
        """Run a coroutine as a task the client keeps (and logs the errors of)."""
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        if name:
            task.set_name(name)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("error in %s", task.get_name(), exc_info=task.exception())

    def handle_message(self, msg: Message) -> None:
        """Every line received: account tags, then irc_<COMMAND> (or irc_unknown)."""
        if msg.tags and "account" in msg.tags and msg.source:
            user = self._user(msg.source)
            user.account = msg.tags["account"]
        self._fire("line_received", msg)
        handler = getattr(self, "irc_" + msg.command.upper(), None)
        if handler is None:
            self._fire("irc_unknown", msg)
        else:
            self._call(handler, msg)

    # -- sending -----------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send_line(self, line: str, priority: bool = False) -> None:
        """Send one raw line (no CR LF) through the limiter."""
        if "\r" in line or "\n" in line or "\0" in line:
            raise ValueError(f"CR, LF or NUL in line {line!r}")
        data = line.encode("utf-8")
        body = data.split(b" ", 1)[1] if data.startswith(b"@") and b" " in data else data
        if len(body) + 2 > self.isupport.linelen:
            raise ValueError(f"line of {len(body) + 2} bytes is over {self.isupport.linelen}")
        if self.transport is None:
            log.warning("not connected, dropping %r", line[:80])
            return
        self.queue.send(data + b"\r\n", priority)

    def send(self, command: str, *params: str, tags: dict[str, str] | None = None,
             priority: bool = False) -> None:
        self.send_line(format_line(command, *params, tags=tags), priority)

    # -- calls (Twisted's names) ---------------------------------------------------------

    def join(self, channel: str, key: str | None = None) -> None:
        if channel[:1] not in CHANNEL_PREFIXES:
            channel = "#" + channel
        folded = self.fold(channel)
        self.wanted_channels[folded] = channel
        if folded in self.channels or folded in self._joining:
            return
        self._joining.add(folded)
        self.send("JOIN", channel, *([key] if key else []))

    def leave(self, channel: str, reason: str | None = None) -> None:
        if channel[:1] not in CHANNEL_PREFIXES:
            channel = "#" + channel
        self.wanted_channels.pop(self.fold(channel), None)
        self.send("PART", channel, *([reason] if reason else []))

    part = leave

    def _texts(self, command: str, target: str, message: str, overhead: int = 0,
               length: int | None = None) -> list[str]:
        budget = text_budget(self.nickname, self.userhost, command, target,
                             self.isupport.linelen, overhead)
        if length is not None:
            budget = min(budget, length)
        return split_text(message, budget)

    def msg(self, user: str, message: str, length: int | None = None) -> None:
        """PRIVMSG, split into as many lines as the text needs."""
        for text in self._texts("PRIVMSG", user, message, length=length):
            self.send("PRIVMSG", user, text)

    say = msg

    def notice(self, user: str, message: str) -> None:
        for text in self._texts("NOTICE", user, message):
            self.send("NOTICE", user, text)

    def describe(self, channel: str, action: str) -> None:
        """Send an action (/me), as CTCP ACTION."""
        for text in self._texts("PRIVMSG", channel, action, overhead=len("\x01ACTION \x01")):
            self.send("PRIVMSG", channel, f"\x01ACTION {text}\x01")

    me = describe

    def ctcp_make_query(self, user: str, tag: str, data: str = "") -> None:
        self.send("PRIVMSG", user, f"\x01{tag} {data}\x01" if data else f"\x01{tag}\x01")

    def ctcp_make_reply(self, user: str, tag: str, data: str = "") -> None:
        self.send("NOTICE", user, f"\x01{tag} {data}\x01" if data else f"\x01{tag}\x01")

    def set_nick(self, nickname: str) -> None:
        self._wanted_nick = nickname
        self.send("NICK", nickname)

    def topic(self, channel: str, topic: str | None = None) -> None:
        self.send("TOPIC", channel, *([topic] if topic is not None else []))

    def mode(self, target: str, modes: str, *args: str) -> None:
        self.send("MODE", target, modes, *args)

    def kick(self, channel: str, user: str, reason: str | None = None) -> None:
        self.send("KICK", channel, user, *([reason] if reason else []))

    def invite(self, user: str, channel: str) -> None:
        self.send("INVITE", user, channel)

    def whois(self, nickname: str, server: str | None = None) -> None:
        self.send("WHOIS", *([server] if server else []), nickname)

    def away(self, message: str = "") -> None:
        self.send("AWAY", *([message] if message else []))

    def quit(self, message: str = "") -> None:
        """Leave the network; the connector will not reconnect."""
        self.quitting = True
        if self.transport is not None:
            self.send("QUIT", *([message] if message else []))

    # -- helpers -----------------------------------------------------------------------

    def fold(self, name: str) -> str:
        return self.isupport.casefold(name)

    def is_channel(self, name: str) -> bool:
        return bool(name) and name[0] in (self.isupport.chantypes or CHANNEL_PREFIXES)

    def is_me(self, nick: str | None) -> bool:
        return nick is not None and self.fold(nick) == self.fold(self.nickname)

    def is_chanop(self, channel: str, nick: str) -> bool:
        """Whether `nick` has op (or higher) in `channel`, as far as we know."""
        chan = self.channels.get(self.fold(channel))
        if chan is None:
            return False
        prefixes = chan.members.get(self.fold(nick), "")
        symbols = self.isupport.prefix_symbols
        op_rank = symbols.find("@")
        ranks = [symbols.find(p) for p in prefixes]
        if op_rank < 0:
            return bool(prefixes)
        return any(0 <= r <= op_rank for r in ranks)

    def _user(self, source: str) -> User:
        nick, user, host = split_source(source)
        folded = self.fold(nick)
        known = self.users.get(folded)
        if known is None:
            known = self.users[folded] = User(nick)
        known.nick = nick
        if user:
            known.user = user
        if host:
            known.host = host
        return known

    def _forget_if_unseen(self, folded: str) -> None:
        if not any(folded in c.members for c in self.channels.values()):
            self.users.pop(folded, None)

    def _sort_prefixes(self, prefixes: str) -> str:
        order = self.isupport.prefix_symbols
        return "".join(sorted(set(prefixes), key=lambda p: order.find(p)))

    # -- registration --------------------------------------------------------------------

    def register(self) -> None:
        """CAP LS 302, PASS, NICK, USER: priority lines, sent once per connection."""
        self._wanted_nick = self.nickname
        self.send("CAP", "LS", "302", priority=True)
        if self.password:
            self.send("PASS", self.password, priority=True)
        self.send("NICK", self.nickname, priority=True)
        self.send("USER", self.username, "0", "*", self.realname, priority=True)

    def _cap_end(self) -> None:
        if not self._cap_end_sent:
            self._cap_end_sent = True
            self.send("CAP", "END", priority=True)

    def irc_CAP(self, msg: Message) -> None:
        if len(msg.params) < 3:
            return
        sub = msg.params[1].upper()
        more = len(msg.params) > 3 and msg.params[2] == "*"
        words = msg.params[-1].split()
        if sub == "LS":
            for word in words:
                name, _, value = word.partition("=")
                self._cap_ls[name] = value
            if more:
                return
            self.offered_caps = dict(self._cap_ls)
            self._request_caps(self.offered_caps)
        elif sub == "NEW":
            new = {}
            for word in words:
                name, _, value = word.partition("=")
                new[name] = value
            self.offered_caps.update(new)
            self._request_caps(new)
        elif sub == "DEL":
            for word in words:
                self.caps.discard(word)
                self.offered_caps.pop(word, None)
        elif sub == "ACK":
            for word in words:
                if word.startswith("-"):
                    self.caps.discard(word[1:])
                else:
                    self.caps.add(word)
            if "sasl" in words and self.sasl_mechanism and not self.registered:
                self._sasl_start()
            elif not self.registered:
                self._cap_end()
        elif sub == "NAK":
            if self.registered:
                return
            if "sasl" in words and self.sasl_mechanism:
                self._sasl_failed("the server refused the sasl capability")
            else:
                self._cap_end()

    def _request_caps(self, offered: dict[str, str]) -> None:
        wanted = [c for c in self.wanted_caps if c in offered and c not in self.caps]
        if self.sasl_mechanism and not self.registered:
            mechs = offered.get("sasl")
            if mechs is None or (mechs and self.sasl_mechanism.upper() not in mechs.upper().split(",")):
                self._sasl_failed(f"the server does not offer SASL {self.sasl_mechanism}")
                return
            wanted.append("sasl")
        if wanted:
            self.send("CAP", "REQ", " ".join(wanted), priority=True)
        elif not self.registered:
            self._cap_end()

    # -- SASL ---------------------------------------------------------------------------

    def _sasl_start(self) -> None:
        try:
            self._sasl = sasl_mod.make_mechanism(self.sasl_mechanism or "", self.sasl_credentials)
        except ValueError as e:
            self._sasl_failed(str(e))
            return
        self.send("AUTHENTICATE", self._sasl.name, priority=True)

    def irc_AUTHENTICATE(self, msg: Message) -> None:
        if self._sasl is None or not msg.params:
            return
        chunk = msg.params[0]
        if chunk != "+":
            self._sasl_buffer += chunk
            if len(chunk) == sasl_mod.CHUNK:
                return  # more to come
        try:
            challenge = base64.b64decode(self._sasl_buffer) if self._sasl_buffer else b""
            self._sasl_buffer = ""
            response = self._sasl.respond(challenge)
        except (ValueError, sasl_mod.SASLError) as e:
            self.send("AUTHENTICATE", "*", priority=True)
            self._sasl_failed(f"SASL aborted: {e}")
            return
        for part in sasl_mod.encode_authenticate(response):
            self.send("AUTHENTICATE", part, priority=True)

    def irc_900(self, msg: Message) -> None:  # RPL_LOGGEDIN
        if len(msg.params) >= 3:
            self.account = msg.params[2]

    def irc_903(self, msg: Message) -> None:  # RPL_SASLSUCCESS
        self._sasl = None
        self._cap_end()

    def _sasl_failed(self, reason: str) -> None:
        self._sasl = None
        if self.sasl_required:
            # A wrong password does not get better by retrying: no reconnect loop.
            self.fatal_error = reason
            log.error("%s; giving up", reason)
            self.quit(reason)
            if self.transport is not None:
                self.transport.close()
        else:
            log.warning("%s; continuing without SASL", reason)
            self._cap_end()

    def irc_904(self, msg: Message) -> None:  # ERR_SASLFAIL
        self._sasl_failed("SASL authentication failed")

    irc_902 = irc_905 = irc_906 = irc_904  # nick locked, too long, aborted

    # -- welcome, errors -----------------------------------------------------------------

    def irc_001(self, msg: Message) -> None:
        self.registered = True
        if msg.params:
            self.nickname = msg.params[0]
        last = msg.params[-1].split()[-1] if msg.params and msg.params[-1].split() else ""
        if "!" in last and "@" in last:
            _, user, host = split_source(last)
            self.userhost = f"{user}@{host}"

    def irc_005(self, msg: Message) -> None:
        self.isupport.update(msg.params[1:-1])

    def irc_396(self, msg: Message) -> None:  # RPL_VISIBLEHOST: our host changed
        if len(msg.params) >= 2 and self.userhost:
            user = self.userhost.split("@")[0]
            host = msg.params[1]
            self.userhost = f"{user}@{host.split('@')[-1]}"

    def irc_376(self, msg: Message) -> None:
        """End of MOTD: ISUPPORT is known now, so signed_on can rely on it."""
        if self.is_signed_on:
            return
        self.is_signed_on = True
        for folded, name in list(self.wanted_channels.items()):
            if folded not in self.channels:
                self.join(name)
        self.signed_on_event.set()
        self._fire("signed_on")

    irc_422 = irc_376  # no MOTD

    def irc_433(self, msg: Message) -> None:  # ERR_NICKNAMEINUSE
        if self.registered:
            self._fire("nick_in_use", msg.params[1] if len(msg.params) > 1 else "")
            return
        nick = (msg.params[1] if len(msg.params) > 1 else self._wanted_nick) + "_"
        if self.isupport.nicklen and len(nick) > self.isupport.nicklen:
            nick = nick[: self.isupport.nicklen - 1] + "_"
        self._wanted_nick = self.nickname = nick
        self.send("NICK", nick, priority=True)

    irc_437 = irc_433  # ERR_UNAVAILRESOURCE

    def irc_432(self, msg: Message) -> None:  # ERR_ERRONEUSNICKNAME
        if not self.registered:
            self.fatal_error = f"the server refuses the nick {self._wanted_nick!r}"
            log.error(self.fatal_error)
            self.quit(self.fatal_error)

    def irc_464(self, msg: Message) -> None:  # ERR_PASSWDMISMATCH
        # The server's own text says which: "Password incorrect" or "Password required".
        reason = msg.params[-1] if len(msg.params) > 1 else "Password incorrect"
        self.fatal_error = reason.lower()
        log.error("the server says: %s; not retrying", reason)

    def irc_465(self, msg: Message) -> None:  # ERR_YOUREBANNEDCREEP
        self.fatal_error = "banned from the server"
        log.error("banned from the server; not retrying")

    def irc_ERROR(self, msg: Message) -> None:
        self.error_message = msg.params[0] if msg.params else ""
        log.info("server closes the link: %s", self.error_message)

    def irc_403(self, msg: Message) -> None:
        """A JOIN refused (no such channel, too many channels, full, invite-only,
        banned, bad key...): forget it, so a later join() asks again."""
        if len(msg.params) < 2:
            return
        folded = self.fold(msg.params[1])
        if folded in self._joining:
            self._joining.discard(folded)
            self.wanted_channels.pop(folded, None)
            self._fire("join_failed", msg.params[1], msg.params[-1])

    irc_405 = irc_471 = irc_473 = irc_474 = irc_475 = irc_476 = irc_477 = irc_403

    def irc_PING(self, msg: Message) -> None:
        self.send("PONG", *msg.params[:1] or ["pong"], priority=True)

    # -- channels and users -----------------------------------------------------------------

    def irc_JOIN(self, msg: Message) -> None:
        if not msg.params or not msg.source:
            return
        channel = msg.params[0]
        folded = self.fold(channel)
        nick = msg.nick or ""
        user = self._user(msg.source)
        if len(msg.params) >= 3:  # extended-join: account, realname
            user.account = None if msg.params[1] == "*" else msg.params[1]
            user.realname = msg.params[2]
        if self.is_me(nick):
            _, u, h = split_source(msg.source)
            if u and h:
                self.userhost = f"{u}@{h}"
            self._joining.discard(folded)
            self.wanted_channels.setdefault(folded, channel)
            self.channels[folded] = Channel(channel)
            self.channels[folded].members[self.fold(nick)] = ""
            self._fire("joined", channel)
        else:
            chan = self.channels.get(folded)
            if chan is not None:
                chan.members[self.fold(nick)] = ""
            self._fire("user_joined", nick, channel)

    def irc_PART(self, msg: Message) -> None:
        if not msg.params:
            return
        channel, nick = msg.params[0], msg.nick or ""
        folded = self.fold(channel)
        if self.is_me(nick):
            self.channels.pop(folded, None)
            self.wanted_channels.pop(folded, None)
            for member in list(self.users):
                self._forget_if_unseen(member)
            self._fire("left", channel)
        else:
            chan = self.channels.get(folded)
            if chan is not None:
                chan.members.pop(self.fold(nick), None)
            self._forget_if_unseen(self.fold(nick))
            self._fire("user_left", nick, channel)

    def irc_KICK(self, msg: Message) -> None:
        if len(msg.params) < 2:
            return
        channel, kicked = msg.params[0], msg.params[1]
        reason = msg.params[2] if len(msg.params) > 2 else ""
        kicker = msg.nick or ""
        folded = self.fold(channel)
        if self.is_me(kicked):
            self.channels.pop(folded, None)
            self.wanted_channels.pop(folded, None)
            self._fire("kicked_from", channel, kicker, reason)
        else:
            chan = self.channels.get(folded)
            if chan is not None:
                chan.members.pop(self.fold(kicked), None)
            self._forget_if_unseen(self.fold(kicked))
            self._fire("user_kicked", kicked, channel, kicker, reason)

    def irc_QUIT(self, msg: Message) -> None:
        nick = msg.nick or ""
        folded = self.fold(nick)
        for chan in self.channels.values():
            chan.members.pop(folded, None)
        self.users.pop(folded, None)
        self._fire("user_quit", nick, msg.params[0] if msg.params else "")

    def irc_NICK(self, msg: Message) -> None:
        if not msg.params:
            return
        old, new = msg.nick or "", msg.params[0]
        f_old, f_new = self.fold(old), self.fold(new)
        for chan in self.channels.values():
            if f_old in chan.members:
                chan.members[f_new] = chan.members.pop(f_old)
        if f_old in self.users:
            user = self.users.pop(f_old)
            user.nick = new
            self.users[f_new] = user
        if self.is_me(old):
            self.nickname = new
            self._fire("nick_changed", new)
        else:
            self._fire("user_renamed", old, new)

    def irc_TOPIC(self, msg: Message) -> None:
        if len(msg.params) < 2:
            return
        channel, topic = msg.params[0], msg.params[1]
        chan = self.channels.get(self.fold(channel))
        if chan is not None:
            chan.topic, chan.topic_setter = topic, msg.source
        self._fire("topic_updated", msg.nick or "", channel, topic)

    def irc_332(self, msg: Message) -> None:  # RPL_TOPIC
        if len(msg.params) < 3:
            return
        channel, topic = msg.params[1], msg.params[2]
        chan = self.channels.get(self.fold(channel))
        if chan is not None:
            chan.topic = topic
        self._fire("topic_updated", self.nickname, channel, topic)

    def irc_333(self, msg: Message) -> None:  # RPL_TOPICWHOTIME
        if len(msg.params) >= 3:
            chan = self.channels.get(self.fold(msg.params[1]))
            if chan is not None:
                chan.topic_setter = msg.params[2]

    def irc_353(self, msg: Message) -> None:  # RPL_NAMREPLY
        if len(msg.params) < 4:
            return
        folded = self.fold(msg.params[2])
        pending = self._pending_names.setdefault(folded, {})
        for entry in msg.params[3].split():
            prefixes, rest = self.isupport.split_prefixes(entry)
            if not rest:
                continue
            user = self._user(rest)  # userhost-in-names gives nick!user@host
            pending[self.fold(user.nick)] = self._sort_prefixes(prefixes)

    def irc_366(self, msg: Message) -> None:  # RPL_ENDOFNAMES
        if len(msg.params) < 2:
            return
        folded = self.fold(msg.params[1])
        names = self._pending_names.pop(folded, {})
        chan = self.channels.get(folded)
        if chan is not None:
            chan.members = names or chan.members
            self._fire("names_received", chan.name)

    def irc_324(self, msg: Message) -> None:  # RPL_CHANNELMODEIS
        if len(msg.params) < 3:
            return
        chan = self.channels.get(self.fold(msg.params[1]))
        if chan is not None:
            chan.modes = {}
            self._apply_modes(chan, msg.params[2], list(msg.params[3:]))

    def _apply_modes(self, chan: Channel | None, modes: str, args: list[str],
                     source: str | None = None, fire: bool = False) -> None:
        adding = True
        group_modes, group_args = "", []

        def flush() -> None:
            if fire and group_modes:
                self._fire("mode_changed", source or "", chan.name if chan else "",
                           adding, group_modes, tuple(group_args))

        for c in modes:
            if c in "+-":
                flush()
                adding = c == "+"
                group_modes, group_args = "", []
                continue
            arg = args.pop(0) if self.isupport.mode_takes_param(c, adding) and args else None
            group_modes += c
            if arg is not None:
                group_args.append(arg)
            if chan is None:
                continue
            if c in self.isupport.prefix_modes and arg is not None:
                symbol = self.isupport.prefix_symbols[self.isupport.prefix_modes.index(c)]
                key = self.fold(arg)
                current = chan.members.get(key, "")
                current = current + symbol if adding else current.replace(symbol, "")
                chan.members[key] = self._sort_prefixes(current)
            elif c in self.isupport.chanmodes[0]:
                pass  # list modes (bans...) are not tracked
            elif adding:
                chan.modes[c] = arg
            else:
                chan.modes.pop(c, None)
        flush()

    def irc_MODE(self, msg: Message) -> None:
        if len(msg.params) < 2:
            return
        target = msg.params[0]
        if self.is_channel(target):
            chan = self.channels.get(self.fold(target))
            self._apply_modes(chan, msg.params[1], list(msg.params[2:]), msg.source, fire=True)
            if chan is None:
                return
        else:
            adding = True
            for c in msg.params[1]:
                if c in "+-":
                    adding = c == "+"
            self._fire("mode_changed", msg.source or "", target, adding,
                       msg.params[1].lstrip("+-"), tuple(msg.params[2:]))

    def irc_AWAY(self, msg: Message) -> None:  # away-notify
        if msg.source:
            self._user(msg.source).away = msg.params[0] if msg.params else None

    def irc_ACCOUNT(self, msg: Message) -> None:  # account-notify
        if msg.source and msg.params:
            self._user(msg.source).account = None if msg.params[0] == "*" else msg.params[0]

    def irc_CHGHOST(self, msg: Message) -> None:
        if msg.source and len(msg.params) >= 2:
            user = self._user(msg.source)
            user.user, user.host = msg.params[0], msg.params[1]
            if self.is_me(user.nick):
                self.userhost = f"{user.user}@{user.host}"

    # -- messages ------------------------------------------------------------------------

    def irc_PRIVMSG(self, msg: Message) -> None:
        if len(msg.params) < 2:
            return
        user, channel, message = msg.source or "", msg.params[0], msg.params[1]
        if "echo-message" in self.caps and self.is_me(msg.nick):
            self._fire("echoed", channel, message)
            return
        if message.startswith(_CTCP):
            self._ctcp_query(user, channel, message)
            return
        self._fire("privmsg", user, channel, message)

    def irc_NOTICE(self, msg: Message) -> None:
        if len(msg.params) < 2:
            return
        user, channel, message = msg.source or "", msg.params[0], msg.params[1]
        if "echo-message" in self.caps and self.is_me(msg.nick):
            return
        if message.startswith(_CTCP) and "!" in user:
            tag, _, data = message.strip(_CTCP).partition(" ")
            self._fire("ctcp_reply", user, channel, tag.upper(), data)
            return
        self._fire("noticed", user, channel, message)

    def _ctcp_query(self, user: str, channel: str, message: str) -> None:
        tag, _, data = message.strip(_CTCP).partition(" ")
        tag = tag.upper()
        if tag == "ACTION":
            self._fire("action", user, channel, data)
            return
        nick = split_source(user)[0]
        replies = {
            "VERSION": lambda: f"{self.version_name} {self.version_num}",
            "PING": lambda: data[:64],  # echo a bounded token back
            "TIME": lambda: time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "CLIENTINFO": lambda: "ACTION CLIENTINFO PING TIME VERSION",
        }
        if tag in replies:
            # Anyone can ask, so replies are rate-limited separately and dropped over it.
            if self.ctcp_bucket.take():
                self.ctcp_make_reply(nick, tag, replies[tag]())
            else:
                log.info("CTCP %s from %s dropped: reply rate exceeded", tag, nick)
        self._fire("ctcp_query", user, channel, tag, data)

    # -- event methods (override these) ------------------------------------------------------

    def line_received(self, msg: Message) -> None:
        """Every parsed line, before its irc_<COMMAND> handler."""

    def irc_unknown(self, msg: Message) -> None:
        """A line no irc_<COMMAND> handles."""

    def connection_closed(self, exc: Exception | None) -> None:
        """The connection is gone (Twisted's connectionLost)."""

    def signed_on(self) -> None:
        """Registered, and the welcome (with ISUPPORT) is complete."""

    def joined(self, channel: str) -> None:
        """We joined a channel."""

    def left(self, channel: str) -> None:
        """We left a channel."""

    def join_failed(self, channel: str, message: str) -> None:
        """The server refused our JOIN (the numeric's text is `message`)."""

    def kicked_from(self, channel: str, kicker: str, message: str) -> None:
        """We were kicked from a channel."""

    def privmsg(self, user: str, channel: str, message: str) -> None:
        """A message; `channel` is our nick for a private message; `user` is nick!user@host."""

    def action(self, user: str, channel: str, data: str) -> None:
        """Someone did /me."""

    def noticed(self, user: str, channel: str, message: str) -> None:
        """A NOTICE (bots must never answer one automatically)."""

    def echoed(self, target: str, message: str) -> None:
        """Our own PRIVMSG came back (echo-message)."""

    def ctcp_query(self, user: str, channel: str, tag: str, data: str) -> None:
        """A CTCP query other than ACTION (VERSION, PING, TIME are already answered)."""

    def ctcp_reply(self, user: str, channel: str, tag: str, data: str) -> None:
        """A CTCP reply (in a NOTICE)."""

    def user_joined(self, user: str, channel: str) -> None:
        """`user` (a nick) joined `channel`."""

    def user_left(self, user: str, channel: str) -> None:
        """`user` left `channel`."""

    def user_kicked(self, kickee: str, channel: str, kicker: str, message: str) -> None:
        """`kickee` was kicked from `channel`."""

    def user_quit(self, user: str, message: str) -> None:
        """`user` quit IRC."""

    def user_renamed(self, oldname: str, newname: str) -> None:
        """A user changed nick."""

    def nick_changed(self, nick: str) -> None:
        """Our nick changed."""

    def nick_in_use(self, nick: str) -> None:
        """set_nick() failed: the nick is taken."""

    def topic_updated(self, user: str, channel: str, new_topic: str) -> None:
        """The topic is known or changed."""

    def names_received(self, channel: str) -> None:
        """The member list of a channel is complete."""

    def mode_changed(self, user: str, channel: str, set: bool, modes: str,
                     args: tuple[str, ...]) -> None:
        """Modes changed (one call per +/- group, as Twisted)."""
