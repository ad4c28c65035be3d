"""The relay's YAML config (`config/bridge.yaml`): IRC networks, XMPP accounts, pairs.

Networks and accounts are named once and shared: every pair naming the same
network uses one IRC connection, every pair naming the same account one XMPP
session. A bad file starts nothing: ConfigError names the file, the key and
what is wrong, like the configs of `words` and `bots`.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from bots.connector import TLSOptions
from bots.limiter import DEFAULT_BURST, DEFAULT_RATE
from bots.sasl import MECHANISMS

__all__ = [
    "XMPP_TLS_MODES",
    "ConfigError",
    "IRCNetwork",
    "PairConfig",
    "PairOptions",
    "RelayConfig",
    "XMPPAccount",
    "load_config",
    "parse_config",
]

# How the XMPP session is secured: STARTTLS on the client port (the usual 5222),
# direct TLS (XEP-0368, usually 5223), or nothing, which must be asked for by name.
XMPP_TLS_MODES = ("starttls", "direct", "plaintext")
FORMAT_FIELDS = {"nick", "text"}


class ConfigError(ValueError):
    """`str()` is "<file>: <key>: <problem>"."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem


@dataclass(frozen=True)
class Backoff:
    initial: float = 1.0
    max_delay: float = 300.0


@dataclass(frozen=True)
class IRCNetwork:
    name: str
    server: str
    nick: str
    port: int = 6697
    tls: TLSOptions | None = field(default_factory=TLSOptions)
    username: str | None = None
    realname: str = "IRC/XMPP relay"
    password: str | None = field(default=None, repr=False)
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    burst: float = DEFAULT_BURST
    rate: float = DEFAULT_RATE
    reconnect: Backoff = field(default_factory=Backoff)
    # After `ping_interval` seconds without a line from the server, PING it; nothing
    # back within `ping_timeout` seconds means a dead connection, dropped and replaced.
    ping_interval: float = 120.0
    ping_timeout: float = 60.0


@dataclass(frozen=True)
class XMPPAccount:
    name: str
    jid: str
    password: str = field(repr=False)
    host: str | None = None  # None: the JID's domain, through DNS SRV
    port: int = 5222
    tls: str = "starttls"
    cafile: str | None = None
    self_ping_interval: float = 60.0
    self_ping_timeout: float = 30.0
    reconnect: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class PairOptions:
    """What a pair relays and how it shows it; `defaults:` sets them for every pair."""

    irc_message: str = "<{nick}> {text}"
    irc_action: str = "{nick} {text}"  # sent as CTCP ACTION: "* relay alice waves"
    xmpp_message: str = "<{nick}> {text}"
    xmpp_action: str = "/me {nick} {text}"  # XEP-0245: shown as "* relay alice waves"
    join_part: bool = False
    topic_sync: bool = False
    # A zero-width space after the nick's first character: IRC clients of the
    # person named do not highlight (beep) for every relayed message.
    break_highlights: bool = True
    irc_max_lines: int = 15  # of one XMPP message, after splitting
    rejoin_delay: float = 10.0  # after a kick, on either side


@dataclass(frozen=True)
class PairConfig:
    irc: str  # network name
    channel: str
    xmpp: str  # account name
    room: str  # bare room JID
    nick: str  # our nick in the room
    channel_key: str | None = field(default=None, repr=False)
    room_password: str | None = field(default=None, repr=False)
    options: PairOptions = field(default_factory=PairOptions)


@dataclass(frozen=True)
class RelayConfig:
    source: str
    irc: dict[str, IRCNetwork]
    xmpp: dict[str, XMPPAccount]
    pairs: tuple[PairConfig, ...]


class _Section:
    """One mapping of the file, read key by key; errors carry the key's full path."""

    def __init__(self, source: str, where: str, raw: Any, allowed: set[str]) -> None:
        self.source, self.where = source, where
        if not isinstance(raw, dict):
            raise ConfigError(source, where, "must be a mapping")
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            raise ConfigError(source, self.key(unknown[0]),
                              f"unknown key (known: {', '.join(sorted(allowed))})")
        self.raw = raw

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def error(self, name: str, problem: str) -> ConfigError:
        return ConfigError(self.source, self.key(name), problem)

    def has(self, name: str) -> bool:
        return name in self.raw

    def text(self, name: str, default: str | None = None, *, required: bool = False,
             spaces: bool = True) -> str | None:
        if name not in self.raw or self.raw[name] is None:
            if required:
                raise self.error(name, "is required")
            return default
        value = self.raw[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a numeric password is still a password
        if not isinstance(value, str) or not value:
            raise self.error(name, f"must be a non-empty string, got {value!r}")
        if not spaces and any(c.isspace() for c in value):
            raise self.error(name, f"must not contain spaces, got {value!r}")
        return value

    def secret(self, name: str) -> str | None:
        """`name` in the file, or `name_env` naming an environment variable."""
        env_key = name + "_env"
        if name in self.raw and env_key in self.raw:
            raise self.error(env_key, f"give {name} or {env_key}, not both")
        if env_key in self.raw:
            env = self.text(env_key, spaces=False)
            if env not in os.environ:
                raise self.error(env_key, f"${env} is not set")
            return os.environ[env]
        return self.text(name)

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"must be true or false, got {value!r}")
        return value

    def number(self, name: str, default: float, *, minimum: float = 0.0,
               integer: bool = False) -> Any:
        value = self.raw.get(name, default)
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
            kind = "an integer" if integer else "a number"
            raise self.error(name, f"must be {kind} of at least {minimum:g}, got {value!r}")
        return value

    def port(self, name: str, default: int) -> int:
        value = self.raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise self.error(name, f"must be a port number (1-65535), got {value!r}")
        return value

    def section(self, name: str, allowed: set[str]) -> _Section:
        return _Section(self.source, self.key(name), self.raw.get(name) or {}, allowed)


def _backoff(sec: _Section) -> Backoff:
    rec = sec.section("reconnect", {"initial", "max"})
    initial = rec.number("initial", 1.0, minimum=0.01)
    maximum = rec.number("max", 300.0, minimum=initial)
    return Backoff(float(initial), float(maximum))


def _file(sec: _Section, name: str, base: Path) -> str | None:
    """A file named in the config, relative to the config's directory; it must exist
    now, or every connection would fail on it later."""
    value = sec.text(name)
    if value is None:
        return None
    path = base / Path(value).expanduser()
    if not path.is_file():
        raise sec.error(name, f"no such file: {path}")
    return str(path)


def _irc_tls(sec: _Section, base: Path) -> TLSOptions | None:
    tls = sec.raw.get("tls", True)
    if tls is True:
        return TLSOptions()
    if tls is False:
        return None
    if not isinstance(tls, dict):
        raise sec.error("tls", "must be true, false or a mapping")
    t = sec.section("tls", {"verify", "cafile", "certfile", "keyfile", "fingerprint"})
    return TLSOptions(verify=t.flag("verify", True), cafile=_file(t, "cafile", base),
                      certfile=_file(t, "certfile", base), keyfile=_file(t, "keyfile", base),
                      fingerprint=t.text("fingerprint", spaces=False))


def _network(source: str, name: str, raw: Any, base: Path) -> IRCNetwork:
    sec = _Section(source, f"irc.{name}", raw, {
        "server", "port", "tls", "nick", "username", "realname", "password", "password_env",
        "sasl", "flood", "reconnect", "ping"})
    tls = _irc_tls(sec, base)
    nick = sec.text("nick", required=True, spaces=False)
    net = IRCNetwork(
        name=name, server=sec.text("server", required=True, spaces=False), nick=nick,
        port=sec.port("port", 6697 if tls else 6667), tls=tls,
        username=sec.text("username", spaces=False),
        realname=sec.text("realname", "IRC/XMPP relay"),
        password=sec.secret("password"), reconnect=_backoff(sec),
    )
    if sec.has("sasl"):
        sasl = sec.section("sasl", {"mechanism", "username", "password", "password_env"})
        mech = (sasl.text("mechanism", "PLAIN") or "PLAIN").upper()
        if mech not in MECHANISMS:
            raise sasl.error("mechanism", f"must be one of {', '.join(MECHANISMS)}, got {mech!r}")
        password = sasl.secret("password")
        if mech != "EXTERNAL" and not password:
            raise sasl.error("password", f"SASL {mech} needs a password (or password_env)")
        if mech == "EXTERNAL" and (tls is None or not tls.certfile):
            raise sasl.error("mechanism", "EXTERNAL needs tls.certfile (a client certificate)")
        net = replace(net, sasl_mechanism=mech, sasl_password=password,
                      sasl_username=sasl.text("username", nick))
    flood = sec.section("flood", {"burst", "rate"})
    ping = sec.section("ping", {"interval", "timeout"})
    return replace(net, burst=flood.number("burst", DEFAULT_BURST, minimum=1),
                   rate=flood.number("rate", DEFAULT_RATE, minimum=0.01),
                   ping_interval=float(ping.number("interval", 120.0, minimum=0.1)),
                   ping_timeout=float(ping.number("timeout", 60.0, minimum=0.1)))


def _account(source: str, name: str, raw: Any, base: Path) -> XMPPAccount:
    sec = _Section(source, f"xmpp.{name}", raw, {
        "jid", "password", "password_env", "host", "port", "tls", "cafile", "self_ping",
        "reconnect"})
    jid = sec.text("jid", required=True, spaces=False)
    local, at, domain = jid.partition("@")
    if not at or not local or not domain or "/" in domain:
        raise sec.error("jid", f"must be a bare JID like relay@example.org, got {jid!r}")
    password = sec.secret("password")
    if not password:
        raise sec.error("password", "is required (or password_env)")
    tls = sec.text("tls", "starttls")
    if tls not in XMPP_TLS_MODES:
        raise sec.error("tls", f"must be one of {', '.join(XMPP_TLS_MODES)}, got {tls!r}")
    ping = sec.section("self_ping", {"interval", "timeout"})
    return XMPPAccount(
        name=name, jid=jid, password=password, host=sec.text("host", spaces=False),
        port=sec.port("port", 5223 if tls == "direct" else 5222), tls=tls,
        cafile=_file(sec, "cafile", base),
        self_ping_interval=float(ping.number("interval", 60.0, minimum=0.1)),
        self_ping_timeout=float(ping.number("timeout", 30.0, minimum=0.1)),
        reconnect=_backoff(sec),
    )


_OPTION_KEYS = {f for f in PairOptions.__dataclass_fields__}


def _format(sec: _Section, name: str, default: str) -> str:
    fmt = sec.text(name, default) or default
    try:
        used = {f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None}
    except ValueError as e:
        raise sec.error(name, f"is not a valid format string: {e}") from None
    unknown = used - FORMAT_FIELDS
    if unknown:
        raise sec.error(name, f"unknown field {{{min(unknown)}}} (use {{nick}} and {{text}})")
    texts = [f for _, f, _, _ in string.Formatter().parse(fmt) if f == "text"]
    if len(texts) != 1:
        raise sec.error(name, f"must contain {{text}} exactly once, got {fmt!r}")
    if any(c in fmt for c in "\r\n\0\x01"):
        raise sec.error(name, "must be one line (no CR, LF, NUL or \\x01)")
    return fmt


def _options(sec: _Section, base: PairOptions) -> PairOptions:
    return PairOptions(
        irc_message=_format(sec, "irc_message", base.irc_message),
        irc_action=_format(sec, "irc_action", base.irc_action),
        xmpp_message=_format(sec, "xmpp_message", base.xmpp_message),
        xmpp_action=_format(sec, "xmpp_action", base.xmpp_action),
        join_part=sec.flag("join_part", base.join_part),
        topic_sync=sec.flag("topic_sync", base.topic_sync),
        break_highlights=sec.flag("break_highlights", base.break_highlights),
        irc_max_lines=sec.number("irc_max_lines", base.irc_max_lines, minimum=2, integer=True),
        rejoin_delay=float(sec.number("rejoin_delay", base.rejoin_delay, minimum=0.0)),
    )


def _pair(source: str, index: int, raw: Any, defaults: PairOptions, irc: dict[str, IRCNetwork],
          xmpp: dict[str, XMPPAccount]) -> PairConfig:
    sec = _Section(source, f"pairs[{index}]", raw, {
        "irc", "channel", "channel_key", "channel_key_env", "xmpp", "room", "room_password",
        "room_password_env", "nick", *_OPTION_KEYS})
    network = sec.text("irc", required=True)
    if network not in irc:
        raise sec.error("irc", f"no IRC network {network!r} under irc: "
                               f"(known: {', '.join(sorted(irc)) or 'none'})")
    account = sec.text("xmpp", required=True)
    if account not in xmpp:
        raise sec.error("xmpp", f"no XMPP account {account!r} under xmpp: "
                                f"(known: {', '.join(sorted(xmpp)) or 'none'})")
    channel = sec.text("channel", required=True, spaces=False)
    if channel[0] not in "#&!+" or "," in channel or "\x07" in channel:
        raise sec.error("channel", f"must be an IRC channel name like #words, got {channel!r}")
    room = sec.text("room", required=True, spaces=False)
    local, at, domain = room.partition("@")
    if not at or not local or not domain or "/" in room:
        raise sec.error("room", f"must be a bare room JID like words@conference.example.org, "
                                f"got {room!r}")
    nick = sec.text("nick", xmpp[account].jid.split("@")[0])
    return PairConfig(
        irc=network, channel=channel, xmpp=account, room=room.lower(), nick=nick,
        channel_key=sec.secret("channel_key"), room_password=sec.secret("room_password"),
        options=_options(sec, defaults),
    )


def parse_config(raw: Any, source: str = "<config>", base: Path | None = None) -> RelayConfig:
    base = base or Path.cwd()
    top = _Section(source, "", raw if raw is not None else {}, {"irc", "xmpp", "defaults", "pairs"})
    irc_raw, xmpp_raw = top.raw.get("irc"), top.raw.get("xmpp")
    if not isinstance(irc_raw, dict) or not irc_raw:
        raise ConfigError(source, "irc", "must map network names to IRC settings")
    if not isinstance(xmpp_raw, dict) or not xmpp_raw:
        raise ConfigError(source, "xmpp", "must map account names to XMPP settings")
    irc = {str(n): _network(source, str(n), r, base) for n, r in irc_raw.items()}
    xmpp = {str(n): _account(source, str(n), r, base) for n, r in xmpp_raw.items()}
    defaults = _options(top.section("defaults", _OPTION_KEYS), PairOptions())
    pairs_raw = top.raw.get("pairs")
    if not isinstance(pairs_raw, list) or not pairs_raw:
        raise ConfigError(source, "pairs", "must be a non-empty list of channel/room pairs")
    pairs = tuple(_pair(source, i, r, defaults, irc, xmpp) for i, r in enumerate(pairs_raw))
    seen: dict[tuple[str, str], int] = {}
    room_nicks: dict[tuple[str, str], str] = {}
    for i, pair in enumerate(pairs):
        key = (pair.irc, pair.channel.lower())
        if key in seen:
            raise ConfigError(source, f"pairs[{i}].channel",
                              f"{pair.channel} on {pair.irc} is already in pairs[{seen[key]}]: "
                              f"a channel is relayed to one room")
        seen[key] = i
        # One session is one occupant per room: pairs sharing a room share its nick.
        room_key = (pair.xmpp, pair.room)
        if room_nicks.setdefault(room_key, pair.nick) != pair.nick:
            raise ConfigError(source, f"pairs[{i}].nick",
                              f"{pair.room} is joined as {room_nicks[room_key]!r} already")
    return RelayConfig(source=source, irc=irc, xmpp=xmpp, pairs=pairs)


def load_config(path: str | Path) -> RelayConfig:
    path = Path(path)
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(source, "(file)", e.strerror or str(e)) from None
    except yaml.YAMLError as e:
        raise ConfigError(source, "(file)", f"not valid YAML: {e}") from None
    return parse_config(raw, source, path.parent)
