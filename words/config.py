"""The YAML configuration of `words serve`, checked key by key.

A bad file never half-starts a server: `load_config` raises ConfigError
naming the file, the key and what is wrong. Every key has a default, so an
empty file (or none at all) gives the embedded default server.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from words.casemap import CASEMAPPINGS
from words.cluster.settings import Cluster, parse_cluster
from words.irc.connlimits import check_exempt_entry
from words.names import CHANNEL_CHARSETS, NICK_CHARSETS

DEFAULT_MOTD = "Welcome to words, an IRC server on asyncio. Be excellent to each other."


class ConfigError(ValueError):
    """A configuration problem: `str()` names the file, the key and the problem."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """A TLS listener's certificate chain and key, and (for SASL EXTERNAL) the CA of client certs."""

    cert: str
    key: str
    client_ca: str | None = None


@dataclass(frozen=True, slots=True)
class Listen:
    host: str
    port: int
    tls: TLSFiles | None = None

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Limits:
    """Every limit the server enforces; ISUPPORT announces them as they are."""

    nicklen: int = 30
    channellen: int = 50
    topiclen: int = 390
    awaylen: int = 200
    kicklen: int = 255
    max_channels_per_user: int = 50  # CHANLIMIT
    max_targets: int = 4  # TARGMAX for PRIVMSG/NOTICE/JOIN/PART
    max_clients: int = 10000
    registration_timeout: float = 30.0  # seconds from connect to 001
    ping_interval: float = 120.0  # idle seconds before the server sends PING
    ping_timeout: float = 60.0  # seconds to answer that PING
    sendq: int = 1048576  # bytes queued for one client before "SendQ exceeded"
    max_per_ip: int = 10  # connections from one address (per_ip_exempt are not counted)
    # Connections from one network: an IPv4 /cidr_v4_prefix, an IPv6 /cidr_v6_prefix.
    max_per_cidr_v4: int = 50
    cidr_v4_prefix: int = 24
    max_per_cidr_v6: int = 20
    cidr_v6_prefix: int = 64
    # Reconnect throttling: at most throttle_connections attempts from one
    # address within throttle_window seconds (refused attempts count too).
    throttle_connections: int = 20
    throttle_window: float = 60.0
    # Addresses or CIDR networks that none of the connection caps above count.
    per_ip_exempt: tuple[str, ...] = ("127.0.0.1", "::1")
    # Input pacing ("fakelag"): a burst of flood_burst lines, then flood_rate
    # lines a second; lines beyond that wait, and more than flood_max_queued
    # waiting lines disconnect the client with "Excess Flood".
    flood_burst: int = 10
    flood_rate: float = 2.0
    flood_max_queued: int = 50
    max_modes: int = 4  # MODES: parameter modes per MODE command
    max_list_entries: int = 100  # MAXLIST for each of b, e, I
    whowas_length: int = 100  # nick changes and quits remembered for WHOWAS
    # Login throttling: failed logins per account name and per address within
    # login_failure_window seconds, before further logins are refused at once.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    login_failure_window: float = 60.0
    sasl_timeout: float = 30.0  # seconds for one AUTHENTICATE exchange, then 904
    max_monitor_entries: int = 100  # MONITOR: nicks on one client's list (ISUPPORT MONITOR=)
    # Connections the kernel queues on a listening socket before words accepts them
    # (listen()'s backlog); the kernel caps it at net.core.somaxconn.
    listen_backlog: int = 1024


@dataclass(frozen=True, slots=True)
class Services:
    """NickServ, ChanServ and account registration (REGISTER)."""

    enabled: bool = True  # sign NickServ and ChanServ on at start
    registration: bool = True  # users may register accounts (REGISTER, NickServ REGISTER)
    min_password_length: int = 8  # shorter passwords get WEAK_PASSWORD
    # Rename users of a registered nick who do not identify within the grace
    # time to Guest<digits>. None: on with a database, off for the in-memory realm.
    enforce_nicks: bool | None = None
    nick_grace_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class Sts:
    """IRCv3 Strict Transport Security: clients that saw it insist on TLS for `duration` seconds."""

    port: int
    duration: int
    preload: bool = False


@dataclass(frozen=True, slots=True)
class Cloak:
    """Host cloaking: users see HMAC-SHA256(secret, address) instead of each other's address."""

    secret: str = field(repr=False)
    suffix: str = "ip"


@dataclass(frozen=True, slots=True)
class Oper:
    """A server operator: OPER name password, checked through words.cred."""

    name: str
    password_hash: str = field(repr=False)
    hosts: tuple[str, ...] = ("*@*",)  # user@host masks the OPER must come from
    override: bool = False  # may act on channels without being a channel operator


@dataclass(frozen=True, slots=True)
class XMPP:
    """The XMPP gateway: an XEP-0114 component of an XMPP server (bridge.gateway)."""

    component: str  # the component's domain: rooms are #chan@component, users nick@component
    secret: str = field(repr=False)  # the component_secret of the XMPP server's config
    host: str = "127.0.0.1"  # where the XMPP server accepts components
    port: int = 5347
    # JIDs of these domains are the words accounts of the same local part.
    trusted_domains: tuple[str, ...] = ()
    unknown_jids: str = "guest"  # JIDs neither trusted nor linked: "guest" or "refuse"
    # After the link to the XMPP server drops, its users stay on IRC this long
    # (seconds): a short outage does not make them quit and rejoin.
    grace_seconds: float = 30.0
    formatting: str = "styling"  # IRC formatting <-> XEP-0393 "styling", or "strip"
    reconnect_min: float = 1.0  # first wait before reconnecting (seconds), doubled each try
    reconnect_max: float = 60.0  # the longest wait between tries
    history: int = 20  # messages of recent history sent on join (0: none)


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    """History (words.realm.history): what CHATHISTORY, replay on join and the XMPP gateway serve."""

    enabled: bool = True  # keep history, offer draft/chathistory and draft/event-playback
    lines: int = 1000  # records kept per channel and per private conversation
    max_age: float = 30 * 86400.0  # seconds a record is kept; 0: no age limit
    # Per-channel overrides: folded name as written in the file -> (lines, max_age).
    channels: tuple[tuple[str, int, float], ...] = ()
    chathistory_limit: int = 100  # CHATHISTORY=<n>: the most records one command returns
    replay_on_join: int = 0  # lines replayed on JOIN to clients without draft/chathistory; 0: off
    past_members: bool = False  # users who left a channel (logged in) may still query it
    private: bool = True  # keep private messages (never those to or from services)


@dataclass(frozen=True, slots=True)
class Config:
    source: str = "<defaults>"
    server_name: str = "words.local"
    network: str = "words"
    description: str = "words IRC server"
    motd: str = DEFAULT_MOTD
    listen: tuple[Listen, ...] = (Listen("127.0.0.1", 6667),)
    realm_name: str = ""  # defaults to server_name
    casemapping: str = "rfc1459"
    create_groups_on_request: bool = True
    database: str | None = None  # SQLAlchemy URL; None: the in-memory realm
    auth: tuple[str, ...] = ("anonymous",)
    hashing: dict[str, int] = field(default_factory=dict)
    limits: Limits = Limits()
    log_level: str = "info"
    log_format: str = "text"  # text (rich on a terminal, plain otherwise) or json (one object a line)
    metrics: Listen | None = None  # where to serve Prometheus metrics (GET /metrics); None: off
    opers: tuple[Oper, ...] = ()
    admin: tuple[str, str, str] = ("", "", "")  # ADMIN: location, details, e-mail
    allow_die: bool = False
    allow_restart: bool = False
    scram: bool = False  # offer SASL SCRAM-SHA-256 (stores a SCRAM verifier per account)
    sts: Sts | None = None
    services: Services = Services()
    cloak: Cloak | None = None  # None: hosts are shown as they are
    # Clients must log in (SASL, PASS) before registration completes.
    require_account: bool = False
    # UTF8ONLY: lines that are not UTF-8 are refused (FAIL <command> INVALID_UTF8), never relayed.
    utf8_only: bool = False
    cluster: Cluster | None = None  # a node of a network on PostgreSQL + Redis (words.cluster)
    # What nicks and channel names may hold (words.names): nicks ascii|utf8,
    # channels rfc|ascii|utf8. With utf8 nicks, look-alikes of nicks in use are refused.
    nick_charset: str = "ascii"
    channel_charset: str = "rfc"
    xmpp: XMPP | None = None  # the XMPP gateway; None: off
    history: HistoryConfig = HistoryConfig()
    # uvloop: the optional extra words[uvloop] (bench/README.md has the figures).
    event_loop: str = "asyncio"

    @property
    def tls_enabled(self) -> bool:
        """Some listener asks for client certificates, so SASL EXTERNAL can work."""
        return any(listen.tls is not None and listen.tls.client_ca for listen in self.listen)

    @property
    def realm(self) -> str:
        return self.realm_name or self.server_name


LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")  # as words.logs.LOG_FORMATS
EVENT_LOOPS = ("asyncio", "uvloop")


def parse_listen(value: str) -> Listen:
    """'HOST:PORT', '[v6]:PORT' or ':PORT' -> Listen; ValueError if malformed."""
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host, _, port_text = value.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"port {port_text!r} in {value!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} in {value!r} is out of range 0-65535")
    return Listen(host, port)


def load_config(path: str | Path | None) -> Config:
    """Read and check a YAML config; None gives the defaults."""
    if path is None:
        return Config()
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "(file)", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(source, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return config_from_mapping(data if data is not None else {}, source, base_dir=Path(path).parent)


def config_from_mapping(data: Any, source: str, base_dir: Path = Path(".")) -> Config:
    reader = _Reader(source)
    top = reader.mapping(data, "(top level)")
    reader.known(
        top, "",
        {"server", "listen", "realm", "auth", "hashing", "limits", "log_level", "log_format", "metrics", "opers", "admin",
         "allow_die", "allow_restart", "scram", "services", "sts", "cloak", "require_account",
         "utf8_only",
         "nick_charset", "channel_charset",
         "event_loop", "xmpp", "cluster", "history"},
    )

    server = reader.mapping(top.get("server", {}), "server")
    reader.known(server, "server", {"name", "network", "description", "motd", "motd_file"})
    values: dict[str, Any] = {"source": source}
    for key in ("name", "network", "description"):
        if key in server:
            values["server_name" if key == "name" else key] = reader.text(server[key], f"server.{key}")
    if "motd" in server and "motd_file" in server:
        raise ConfigError(source, "server.motd_file", "give either motd or motd_file, not both")
    if "motd" in server:
        values["motd"] = reader.text(server["motd"], "server.motd", empty_ok=True)
    if "motd_file" in server:
        motd_path = base_dir / reader.text(server["motd_file"], "server.motd_file")
        try:
            values["motd"] = motd_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(source, "server.motd_file", f"cannot read {motd_path}: {exc.strerror}") from None
    if " " in values.get("server_name", "x") or "." not in values.get("server_name", "."):
        raise ConfigError(source, "server.name", "must look like a host name (no spaces, at least one dot)")
    if " " in values.get("network", ""):
        raise ConfigError(source, "server.network", "must not contain spaces")

    if "listen" in top:
        items = top["listen"]
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list) or not items:
            raise ConfigError(source, "listen", "must be a non-empty list of HOST:PORT strings")
        listens = []
        for i, item in enumerate(items):
            listens.append(_listen(reader, item, f"listen[{i}]", base_dir))
        values["listen"] = tuple(listens)

    realm = reader.mapping(top.get("realm", {}), "realm")
    reader.known(realm, "realm", {"name", "casemapping", "create_groups_on_request", "database"})
    if "name" in realm:
        values["realm_name"] = reader.text(realm["name"], "realm.name")
    if "casemapping" in realm:
        mapping = reader.text(realm["casemapping"], "realm.casemapping")
        if mapping not in CASEMAPPINGS:
            raise ConfigError(source, "realm.casemapping", f"{mapping!r} is not one of {', '.join(CASEMAPPINGS)}")
        values["casemapping"] = mapping
    if "database" in realm:
        values["database"] = _database_url(reader, realm["database"], base_dir)
    if "create_groups_on_request" in realm:
        values["create_groups_on_request"] = reader.boolean(
            realm["create_groups_on_request"], "realm.create_groups_on_request"
        )

    if "auth" in top:
        values["auth"] = tuple(_auth_specs(reader, top["auth"], base_dir))

    if "hashing" in top:
        hashing = reader.mapping(top["hashing"], "hashing")
        reader.known(hashing, "hashing", {"ln", "r", "p", "max_concurrent"})
        values["hashing"] = {k: reader.integer(v, f"hashing.{k}", minimum=1) for k, v in hashing.items()}

    limits = reader.mapping(top.get("limits", {}), "limits")
    names = {f.name: f for f in fields(Limits)}
    reader.known(limits, "limits", set(names))
    limit_values = {}
    for key, value in limits.items():
        kind = names[key].type
        if kind == "float":
            limit_values[key] = reader.number(value, f"limits.{key}")
        elif kind == "int":
            limit_values[key] = reader.integer(value, f"limits.{key}", minimum=1)
        else:
            if not isinstance(value, list):
                raise reader.fail(f"limits.{key}", "must be a list of addresses")
            limit_values[key] = tuple(reader.text(v, f"limits.{key}[{i}]") for i, v in enumerate(value))
    for key, bits in (("cidr_v4_prefix", 32), ("cidr_v6_prefix", 128)):
        if limit_values.get(key, 0) > bits:
            raise reader.fail(f"limits.{key}", f"must be at most {bits}, got {limit_values[key]}")
    for i, entry in enumerate(limit_values.get("per_ip_exempt", ())):
        problem = check_exempt_entry(entry)
        if problem is not None:
            raise reader.fail(f"limits.per_ip_exempt[{i}]", f"not an address or CIDR network: {problem}")
    values["limits"] = Limits(**limit_values)

    if "opers" in top:
        values["opers"] = _opers(reader, top["opers"])
    if "admin" in top:
        admin = reader.mapping(top["admin"], "admin")
        reader.known(admin, "admin", {"location", "details", "email"})
        values["admin"] = tuple(
            reader.text(admin.get(k, ""), f"admin.{k}", empty_ok=True) for k in ("location", "details", "email")
        )
    if "sts" in top:
        values["sts"] = _sts(reader, top["sts"], values.get("listen", ()))
    if "cloak" in top:
        values["cloak"] = _cloak(reader, top["cloak"])
    for key in ("allow_die", "allow_restart", "scram", "require_account", "utf8_only"):
        if key in top:
            values[key] = reader.boolean(top[key], key)

    if "services" in top:
        values["services"] = _services(reader, top["services"])
    if "cluster" in top:
        values["cluster"] = parse_cluster(reader, top["cluster"], values.get("database"))
    if "xmpp" in top:
        values["xmpp"] = _xmpp(reader, top["xmpp"])
    if "history" in top:
        values["history"] = _history(reader, top["history"])

    for key, choices in (("log_level", LOG_LEVELS), ("log_format", LOG_FORMATS),
                         ("event_loop", EVENT_LOOPS)):
        if key in top:
            choice = reader.text(top[key], key).lower()
            if choice not in choices:
                raise ConfigError(source, key, f"{choice!r} is not one of {', '.join(choices)}")
            values[key] = choice
    for key, charsets in (("nick_charset", NICK_CHARSETS), ("channel_charset", CHANNEL_CHARSETS)):
        if key in top:
            charset = reader.text(top[key], key).lower()
            if charset not in charsets:
                raise ConfigError(source, key, f"{charset!r} is not one of {', '.join(charsets)}")
            values[key] = charset
    if "metrics" in top:
        metrics = reader.mapping(top["metrics"], "metrics")
        reader.known(metrics, "metrics", {"listen"})
        if "listen" not in metrics:
            raise reader.fail("metrics.listen", "is required (HOST:PORT, e.g. 127.0.0.1:9108)")
        try:
            values["metrics"] = parse_listen(reader.text(metrics["listen"], "metrics.listen"))
        except ValueError as exc:
            raise reader.fail("metrics.listen", str(exc)) from None
    return Config(**values)


def _listen(reader: _Reader, item: Any, key: str, base_dir: Path) -> Listen:
    """`HOST:PORT`, or {address: HOST:PORT, tls: {cert, key, client_ca}}."""
    tls = None
    if isinstance(item, dict):
        reader.known(item, key, {"address", "tls"})
        if "address" not in item:
            raise reader.fail(f"{key}.address", "is required")
        if "tls" in item:
            files = reader.mapping(item["tls"], f"{key}.tls")
            reader.known(files, f"{key}.tls", {"cert", "key", "client_ca"})
            paths = {}
            for name in ("cert", "key", "client_ca"):
                if name not in files:
                    if name == "client_ca":
                        continue
                    raise reader.fail(f"{key}.tls.{name}", "is required")
                path = base_dir / reader.text(files[name], f"{key}.tls.{name}")
                if not path.is_file():
                    raise reader.fail(f"{key}.tls.{name}", f"no such file: {path}")
                paths[name] = str(path)
            tls = TLSFiles(**paths)
        item = item["address"]
    try:
        listen = parse_listen(item)
    except ValueError as exc:
        raise reader.fail(key, str(exc)) from None
    return Listen(listen.host, listen.port, tls)


def _history(reader: _Reader, value: Any) -> HistoryConfig:
    history = reader.mapping(value, "history")
    reader.known(history, "history", {f.name for f in fields(HistoryConfig)})
    values: dict[str, Any] = {}
    for key in ("enabled", "past_members", "private"):
        if key in history:
            values[key] = reader.boolean(history[key], f"history.{key}")
    for key, minimum in (("lines", 1), ("chathistory_limit", 1), ("replay_on_join", 0)):
        if key in history:
            values[key] = reader.integer(history[key], f"history.{key}", minimum=minimum)
    if "max_age" in history:
        values["max_age"] = _seconds(reader, history["max_age"], "history.max_age")
    channels = reader.mapping(history.get("channels", {}), "history.channels")
    overrides = []
    for name, item in channels.items():
        key = f"history.channels.{name}"
        if not isinstance(name, str) or not name.startswith("#"):
            raise reader.fail(key, "must be a channel name (quote it: \"#chan\")")
        item = reader.mapping(item, key)
        reader.known(item, key, {"lines", "max_age"})
        lines = reader.integer(item.get("lines", values.get("lines", HistoryConfig.lines)),
                               f"{key}.lines", minimum=1)
        age = item.get("max_age", values.get("max_age", HistoryConfig.max_age))
        overrides.append((name, lines, _seconds(reader, age, f"{key}.max_age")))
    values["channels"] = tuple(overrides)
    return HistoryConfig(**values)


def _seconds(reader: _Reader, value: Any, key: str) -> float:
    """A number of seconds, 0 or more (0: no limit)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise reader.fail(key, f"must be a number of seconds (0: no limit), got {value!r}")
    return float(value)


def _services(reader: _Reader, value: Any) -> Services:
    services = reader.mapping(value, "services")
    reader.known(services, "services", {f.name for f in fields(Services)})
    values: dict[str, Any] = {}
    for key in ("enabled", "registration"):
        if key in services:
            values[key] = reader.boolean(services[key], f"services.{key}")
    if services.get("enforce_nicks") is not None:
        values["enforce_nicks"] = reader.boolean(services["enforce_nicks"], "services.enforce_nicks")
    if "min_password_length" in services:
        values["min_password_length"] = reader.integer(
            services["min_password_length"], "services.min_password_length", minimum=1
        )
    if "nick_grace_seconds" in services:
        values["nick_grace_seconds"] = reader.number(
            services["nick_grace_seconds"], "services.nick_grace_seconds"
        )
    return Services(**values)


XMPP_UNKNOWN_JIDS = ("guest", "refuse")
XMPP_FORMATTING = ("styling", "strip")


def _domain(reader: _Reader, value: Any, key: str) -> str:
    domain = reader.text(value, key).lower()
    if any(c in domain for c in " @/:*?") or "." not in domain.strip("."):
        raise reader.fail(key, f"must be a domain name like irc.example.org, got {domain!r}")
    return domain


def _xmpp(reader: _Reader, value: Any) -> XMPP:
    xmpp = reader.mapping(value, "xmpp")
    reader.known(xmpp, "xmpp", {f.name for f in fields(XMPP)})
    for required in ("component", "secret"):
        if required not in xmpp:
            raise reader.fail(f"xmpp.{required}", "is required")
    values: dict[str, Any] = {
        "component": _domain(reader, xmpp["component"], "xmpp.component"),
        "secret": reader.text(xmpp["secret"], "xmpp.secret"),
    }
    if "host" in xmpp:
        values["host"] = reader.text(xmpp["host"], "xmpp.host")
    if "port" in xmpp:
        port = reader.integer(xmpp["port"], "xmpp.port", minimum=1)
        if port > 65535:
            raise reader.fail("xmpp.port", f"must be at most 65535, got {port}")
        values["port"] = port
    if "trusted_domains" in xmpp:
        domains = xmpp["trusted_domains"]
        if not isinstance(domains, list):
            raise reader.fail("xmpp.trusted_domains", "must be a list of domain names")
        values["trusted_domains"] = tuple(
            _domain(reader, d, f"xmpp.trusted_domains[{i}]") for i, d in enumerate(domains)
        )
    for key, choices in (("unknown_jids", XMPP_UNKNOWN_JIDS), ("formatting", XMPP_FORMATTING)):
        if key in xmpp:
            choice = reader.text(xmpp[key], f"xmpp.{key}").lower()
            if choice not in choices:
                raise reader.fail(f"xmpp.{key}", f"{choice!r} is not one of {', '.join(choices)}")
            values[key] = choice
    for key in ("grace_seconds", "reconnect_min", "reconnect_max"):
        if key in xmpp:
            values[key] = reader.number(xmpp[key], f"xmpp.{key}")
    if "history" in xmpp:
        values["history"] = reader.integer(xmpp["history"], "xmpp.history", minimum=0)
    config = XMPP(**values)
    if config.reconnect_max < config.reconnect_min:
        raise reader.fail("xmpp.reconnect_max", "must not be less than xmpp.reconnect_min")
    return config


def _cloak(reader: _Reader, value: Any) -> Cloak:
    cloak = reader.mapping(value, "cloak")
    reader.known(cloak, "cloak", {"secret", "suffix"})
    if "secret" not in cloak:
        raise reader.fail("cloak.secret", "is required (a long random string; keep it secret)")
    secret = reader.text(cloak["secret"], "cloak.secret")
    if len(secret) < 16:
        raise reader.fail("cloak.secret", "must be at least 16 characters")
    suffix = reader.text(cloak.get("suffix", "ip"), "cloak.suffix")
    if any(c in suffix for c in " !@*?,:"):
        raise reader.fail("cloak.suffix", "must be a host name part (no spaces, !, @, *, ?, , or :)")
    return Cloak(secret, suffix)


def _sts(reader: _Reader, value: Any, listens: tuple[Listen, ...]) -> Sts:
    sts = reader.mapping(value, "sts")
    reader.known(sts, "sts", {"duration", "port", "preload"})
    tls_ports = [listen.port for listen in listens if listen.tls is not None]
    if not tls_ports:
        raise reader.fail("sts", "needs a TLS listener (listen: [{address: ..., tls: {...}}])")
    if "duration" not in sts:
        raise reader.fail("sts.duration", "is required (seconds clients insist on TLS, e.g. 2592000)")
    duration = reader.integer(sts["duration"], "sts.duration", minimum=0)
    port = reader.integer(sts.get("port", tls_ports[0]), "sts.port", minimum=1)
    return Sts(port, duration, reader.boolean(sts.get("preload", False), "sts.preload"))


def _opers(reader: _Reader, value: Any) -> tuple[Oper, ...]:
    from words.cred import PasswordHasher

    if not isinstance(value, list):
        raise reader.fail("opers", "must be a list of {name, password, hosts, override}")
    opers = []
    for i, item in enumerate(value):
        key = f"opers[{i}]"
        item = reader.mapping(item, key)
        reader.known(item, key, {"name", "password", "hosts", "override"})
        for required in ("name", "password"):
            if required not in item:
                raise reader.fail(f"{key}.{required}", "is required")
        password = reader.text(item["password"], f"{key}.password")
        if not PasswordHasher.is_hash(password):
            # Never a plaintext oper password in a config file.
            raise reader.fail(f"{key}.password", "must be a hash made with `words hashpw`")
        hosts = item.get("hosts", ["*@*"])
        if not isinstance(hosts, list) or not hosts:
            raise reader.fail(f"{key}.hosts", "must be a non-empty list of user@host masks")
        opers.append(Oper(
            name=reader.text(item["name"], f"{key}.name"),
            password_hash=password,
            hosts=tuple(reader.text(h, f"{key}.hosts[{j}]") for j, h in enumerate(hosts)),
            override=reader.boolean(item.get("override", False), f"{key}.override"),
        ))
    return tuple(opers)


def _database_url(reader: _Reader, value: Any, base_dir: Path) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from words.store.database import resolve_url

    url = reader.text(value, "realm.database")
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise reader.fail("realm.database", f"not a database URL: {url!r} (try sqlite:///words.db)") from None
    if backend not in ("sqlite", "postgresql"):
        raise reader.fail("realm.database", f"{backend} is not supported (sqlite or postgresql)")
    return resolve_url(url, base_dir)  # a relative SQLite file is relative to the config


def _auth_specs(reader: _Reader, value: Any, base_dir: Path) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(reader.source, "auth", "must be a non-empty list of auth strings (see words serve --help-auth)")
    specs = []
    for i, item in enumerate(value):
        spec = reader.text(item, f"auth[{i}]")
        kind, sep, arg = spec.partition(":")
        if kind == "file" and sep and not Path(arg).is_absolute():
            spec = f"file:{base_dir / arg}"  # relative to the config file, not the cwd
        specs.append(spec)
    return specs


class _Reader:
    """Type checks that name the key in their error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, key, problem)

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping, got {type(value).__name__}")
        return value

    def known(self, value: dict[str, Any], prefix: str, allowed: set[str]) -> None:
        for key in value:
            if key not in allowed:
                where = f"{prefix}.{key}" if prefix else str(key)
                raise self.fail(where, f"unknown key (known: {', '.join(sorted(allowed))})")

    def text(self, value: Any, key: str, *, empty_ok: bool = False) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {type(value).__name__}")
        if not empty_ok and not value.strip():
            raise self.fail(key, "must not be empty")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def integer(self, value: Any, key: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(key, f"must be a number, got {value!r}")
        if value <= 0:
            raise self.fail(key, f"must be positive, got {value}")
        return float(value)
