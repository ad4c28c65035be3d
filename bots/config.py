"""The bots YAML config: one entry per bot (each may be on its own network).

Errors name the file, the key and the problem, like words' own config, and a
bad file starts nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bots.connector import TLSOptions
from bots.limiter import DEFAULT_BURST, DEFAULT_RATE
from bots.sasl import MECHANISMS

__all__ = ["BotConfig", "ConfigError", "load_config"]


class ConfigError(ValueError):
    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")


@dataclass
class BotConfig:
    nick: str
    server: str = "127.0.0.1"
    port: int = 6667
    tls: TLSOptions | None = None
    password: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    channels: list[str] = field(default_factory=list)
    prefix: str = "!"
    owners: list[str] = field(default_factory=list)
    owner_masks: list[str] = field(default_factory=list)
    admins: list[str] = field(default_factory=list)
    admin_masks: list[str] = field(default_factory=list)
    storage: str = ":memory:"
    burst: float = DEFAULT_BURST
    rate: float = DEFAULT_RATE
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)


_KEYS = {
    "nick", "server", "port", "tls", "password", "password_env", "sasl", "channels", "prefix",
    "owners", "owner_masks", "admins", "admin_masks", "storage", "flood", "plugins",
}


def _strings(source: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(source, key, "must be a list of strings")
    return list(value)


def _bot(source: str, where: str, raw: Any, base: Path) -> BotConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, where, "must be a mapping")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(source, f"{where}.{min(unknown)}", "unknown key")
    nick = raw.get("nick")
    if not isinstance(nick, str) or not nick or " " in nick:
        raise ConfigError(source, f"{where}.nick", "must be a nick without spaces")
    cfg = BotConfig(nick=nick)
    server = raw.get("server", cfg.server)
    if not isinstance(server, str) or not server:
        raise ConfigError(source, f"{where}.server", "must be a host name or address")
    cfg.server = server
    port = raw.get("port", cfg.port)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(source, f"{where}.port", f"must be a port number, got {port!r}")
    cfg.port = port
    tls = raw.get("tls", False)
    if tls is True:
        cfg.tls = TLSOptions()
    elif isinstance(tls, dict):
        try:
            cfg.tls = TLSOptions(**tls)
        except TypeError as e:
            raise ConfigError(source, f"{where}.tls", str(e)) from None
    elif tls not in (False, None):
        raise ConfigError(source, f"{where}.tls", "must be true, false or a mapping")
    cfg.password = raw.get("password")
    if "password_env" in raw:
        env = raw["password_env"]
        if env not in os.environ:
            raise ConfigError(source, f"{where}.password_env", f"${env} is not set")
        cfg.password = os.environ[env]
    sasl = raw.get("sasl")
    if sasl is not None:
        if not isinstance(sasl, dict):
            raise ConfigError(source, f"{where}.sasl", "must be a mapping")
        mech = str(sasl.get("mechanism", "PLAIN")).upper()
        if mech not in MECHANISMS:
            raise ConfigError(source, f"{where}.sasl.mechanism", f"must be one of {', '.join(MECHANISMS)}")
        cfg.sasl_mechanism = mech
        cfg.sasl_username = sasl.get("username", nick)
        cfg.sasl_password = sasl.get("password")
        if mech != "EXTERNAL" and not cfg.sasl_password:
            raise ConfigError(source, f"{where}.sasl.password", f"{mech} needs a password")
    cfg.channels = _strings(source, f"{where}.channels", raw.get("channels"))
    prefix = raw.get("prefix", "!")
    if not isinstance(prefix, str):
        raise ConfigError(source, f"{where}.prefix", "must be a string")
    cfg.prefix = prefix
    for key in ("owners", "owner_masks", "admins", "admin_masks"):
        setattr(cfg, key, _strings(source, f"{where}.{key}", raw.get(key)))
    storage = raw.get("storage", ":memory:")
    if not isinstance(storage, str):
        raise ConfigError(source, f"{where}.storage", "must be a path")
    cfg.storage = storage if storage == ":memory:" or "://" in storage else str(base / storage)
    flood = raw.get("flood") or {}
    if not isinstance(flood, dict):
        raise ConfigError(source, f"{where}.flood", "must be a mapping")
    burst, rate = flood.get("burst", DEFAULT_BURST), flood.get("rate", DEFAULT_RATE)
    if not isinstance(burst, (int, float)) or burst < 1:
        raise ConfigError(source, f"{where}.flood.burst", "must be at least 1")
    if not isinstance(rate, (int, float)) or rate <= 0:
        raise ConfigError(source, f"{where}.flood.rate", "must be a positive number of lines per second")
    cfg.burst, cfg.rate = burst, rate
    plugins = raw.get("plugins") or {}
    if isinstance(plugins, list):
        plugins = {name: {} for name in plugins}
    if not isinstance(plugins, dict):
        raise ConfigError(source, f"{where}.plugins", "must be a mapping of plugin: settings")
    for name, settings in plugins.items():
        if settings is not None and not isinstance(settings, dict):
            raise ConfigError(source, f"{where}.plugins.{name}", "settings must be a mapping")
        cfg.plugins[str(name)] = settings or {}
    return cfg


def load_config(path: str | Path) -> list[BotConfig]:
    path = Path(path)
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(source, "(file)", e.strerror or str(e)) from None
    except yaml.YAMLError as e:
        raise ConfigError(source, "(file)", f"not valid YAML: {e}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("bots"), list) or not raw["bots"]:
        raise ConfigError(source, "bots", "must be a non-empty list of bots")
    unknown = set(raw) - {"bots"}
    if unknown:
        raise ConfigError(source, min(unknown), "unknown key")
    return [_bot(source, f"bots[{i}]", b, path.parent) for i, b in enumerate(raw["bots"])]
