"""What the client knows about the server: ISUPPORT, channels, members, users.

Plain data, updated by the client as lines arrive; names are keyed by their
folded form under the server's CASEMAPPING.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from words.casemap import get_casefold

__all__ = ["Channel", "ISupport", "User"]


@dataclass
class ISupport:
    """The 005 tokens we use, with RFC 1459 defaults for servers that omit them."""

    casemapping: str = "rfc1459"
    prefix_modes: str = "ov"
    prefix_symbols: str = "@+"
    # CHANMODES: A (lists), B (always a param), C (param when set), D (never).
    chanmodes: tuple[str, str, str, str] = ("b", "k", "l", "imnpst")
    chantypes: str = "#&"
    nicklen: int | None = None
    linelen: int = 512
    network: str | None = None
    raw: dict[str, str] = field(default_factory=dict)

    def update(self, tokens: list[str]) -> None:
        for token in tokens:
            key, _, value = token.partition("=")
            if key.startswith("-"):
                self.raw.pop(key[1:], None)
                continue
            self.raw[key] = value
            if key == "CASEMAPPING" and value:
                self.casemapping = value
            elif key == "PREFIX" and value.startswith("(") and ")" in value:
                modes, _, symbols = value[1:].partition(")")
                if len(modes) == len(symbols):
                    self.prefix_modes, self.prefix_symbols = modes, symbols
            elif key == "CHANMODES":
                parts = (value.split(",") + ["", "", "", ""])[:4]
                self.chanmodes = (parts[0], parts[1], parts[2], parts[3])
            elif key == "CHANTYPES":
                self.chantypes = value
            elif key == "NICKLEN" and value.isdecimal():
                self.nicklen = int(value)
            elif key == "LINELEN" and value.isdecimal():
                self.linelen = max(512, int(value))
            elif key == "NETWORK":
                self.network = value

    @property
    def casefold(self) -> Callable[[str], str]:
        try:
            return get_casefold(self.casemapping)
        except ValueError:
            # rfc1459 folds a superset of ascii: the safer guess for unknown ones.
            return get_casefold("rfc1459")

    def mode_takes_param(self, mode: str, adding: bool) -> bool:
        lists, always, when_set, _ = self.chanmodes
        if mode in self.prefix_modes or mode in lists or mode in always:
            return True
        return adding and mode in when_set

    def split_prefixes(self, name: str) -> tuple[str, str]:
        """'@+nick' -> ('@+', 'nick') using the server's prefix symbols."""
        i = 0
        while i < len(name) and name[i] in self.prefix_symbols:
            i += 1
        return name[:i], name[i:]


@dataclass
class User:
    nick: str
    user: str = ""
    host: str = ""
    account: str | None = None  # None: unknown; "" never used; "*" is mapped to None
    away: str | None = None
    realname: str | None = None


@dataclass
class Channel:
    name: str
    topic: str = ""
    topic_setter: str | None = None
    modes: dict[str, str | None] = field(default_factory=dict)
    # folded nick -> prefix symbols, highest first (e.g. "@+")
    members: dict[str, str] = field(default_factory=dict)
