"""Addresses of the gateway: rooms `#chan@component`, users `nick@component`.

Channel and nick names go into JID local parts with XEP-0106 escaping (a
space, `"&'/:<>@` and a backslash that would read as an escape). slixmpp
1.17 has only `unescape_node`, and it panics (a Rust PanicException, not a
ValueError) on a local part ending in a backslash and one character, which
any peer may send: both directions are done here. A MUC nick is a resource
and needs no escaping, but must become a valid IRC nick.
"""

from __future__ import annotations

import re

__all__ = ["escape_node", "irc_nick", "unescape_node", "valid_nick"]

_ESCAPES = {
    " ": "\\20", '"': "\\22", "&": "\\26", "'": "\\27", "/": "\\2f",
    ":": "\\3a", "<": "\\3c", ">": "\\3e", "@": "\\40",
}
_UNESCAPES = {seq: char for char, seq in _ESCAPES.items()} | {"\\5c": "\\"}
_SEQUENCES = frozenset(_UNESCAPES)
_SEQUENCE = re.compile(r"\\(?:2[0267f]|3[ace]|40|5c)", re.IGNORECASE)


def escape_node(text: str) -> str:
    """XEP-0106: `text` as a JID local part (the reverse of slixmpp's unescape_node)."""
    out = []
    for i, char in enumerate(text):
        if char == "\\":
            # Escaped only where it would start an escape sequence.
            out.append("\\5c" if text[i:i + 3].lower() in _SEQUENCES else char)
        else:
            out.append(_ESCAPES.get(char, char))
    return "".join(out)


def unescape_node(node: str) -> str:
    """XEP-0106: the text a JID local part stands for (unknown sequences stay as they are)."""
    return _SEQUENCE.sub(lambda m: _UNESCAPES[m.group(0).lower()], node)


# An IRC nick: a letter or one of []\`_^{|} first, then those, digits and '-'.
_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}\-]*\Z")
_BAD = re.compile(r"[^A-Za-z0-9\[\]\\`_^{|}\-]")


def valid_nick(nick: str, nicklen: int) -> bool:
    return len(nick) <= nicklen and _NICK.match(nick) is not None


def irc_nick(wanted: str, nicklen: int) -> str:
    """The IRC nick closest to a MUC nick: other characters become '_', cut to NICKLEN."""
    nick = _BAD.sub("_", wanted.strip())
    if not nick or not _NICK.match(nick[0]):
        nick = "_" + nick
    return nick[:nicklen]


def nick_candidates(nick: str, nicklen: int, tries: int = 50):
    """`nick`, then variants with a suffix for a name that is taken: nick_, nick1, nick2..."""
    yield nick
    yield (nick[: nicklen - 1] + "_")
    for n in range(1, tries):
        suffix = str(n)
        yield nick[: nicklen - len(suffix)] + suffix
