"""IRC line codec: parse and format single IRC lines (RFC 1459 + IRCv3 tags).

Shared by the server and the bot client.  Everything here works on one line
at a time, without the CR LF terminator; framing is the transport's job.
This is the server's hot path, so parsing and formatting use plain str
methods and avoid regular expressions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from words.masks import mask_to_regex, match_mask

__all__ = [
    "MAX_CLIENT_TAGS_BYTES",
    "MAX_LINE_BYTES",
    "MAX_TAGS_BYTES",
    "Message",
    "ParseError",
    "check_length",
    "decode_line",
    "escape_tag_value",
    "format_line",
    "is_valid_hostname",
    "mask_to_regex",
    "match_mask",
    "parse_line",
    "split_source",
    "unescape_tag_value",
]

# RFC 1459: source + command + params, including the trailing CR LF.
MAX_LINE_BYTES = 512
# IRCv3 message-tags: the tags part, including the leading '@' and the
# trailing space.
MAX_TAGS_BYTES = 8191
# IRCv3 message-tags: what a client may send in client-only tags.
MAX_CLIENT_TAGS_BYTES = 4094


class ParseError(ValueError):
    """The line is not an IRC message (empty, only tags/source, no command)."""


@dataclass(slots=True)
class Message:
    command: str
    params: list[str] = field(default_factory=list)
    source: str | None = None
    tags: dict[str, str] | None = None

    @property
    def nick(self) -> str | None:
        """The nick part of the source ("nick!user@host"), or None."""
        if self.source is None:
            return None
        return self.source.partition("@")[0].partition("!")[0]

    def to_line(self) -> str:
        return format_line(
            self.command, *self.params, source=self.source, tags=self.tags
        )


# --- tag values -----------------------------------------------------------

_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}


def escape_tag_value(s: str) -> str:
    # Backslash first, or we would double the escapes added below.
    if "\\" in s:
        s = s.replace("\\", "\\\\")
    if ";" in s:
        s = s.replace(";", "\\:")
    if " " in s:
        s = s.replace(" ", "\\s")
    if "\r" in s:
        s = s.replace("\r", "\\r")
    if "\n" in s:
        s = s.replace("\n", "\\n")
    return s


def unescape_tag_value(s: str) -> str:
    if "\\" not in s:
        return s
    # Walk escape by escape (not chained replace()) so that e.g. "\\\\n"
    # becomes "\\n" and not a newline.
    out: list[str] = []
    i = 0
    n = len(s)
    while True:
        j = s.find("\\", i)
        if j < 0:
            out.append(s[i:])
            break
        out.append(s[i:j])
        if j + 1 >= n:
            break  # a trailing lone backslash is dropped
        c = s[j + 1]
        # Unknown escapes drop the backslash and keep the character.
        out.append(_UNESCAPES.get(c, c))
        i = j + 2
    return "".join(out)


def _parse_tags(raw: str) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        key, _, value = item.partition("=")
        if key:
            # Plain assignment: for duplicate keys the last one wins.
            tags[key] = unescape_tag_value(value)
    return tags or None


# --- parse / format -------------------------------------------------------


def parse_line(line: str) -> Message:
    """Parse one line (CR LF optional) into a Message.

    Params are split on runs of spaces (RFC 1459 style); tabs are not
    separators.  The command is returned as sent, not upper-cased.
    """
    line = line.rstrip("\r\n").lstrip(" ")

    tags = None
    if line.startswith("@"):
        raw_tags, sep, line = line.partition(" ")
        if not sep:
            raise ParseError("message has only tags")
        tags = _parse_tags(raw_tags[1:])
        line = line.lstrip(" ")

    source = None
    if line.startswith(":"):
        source, sep, line = line.partition(" ")
        if not sep:
            raise ParseError("message has only a source")
        source = source[1:]
        line = line.lstrip(" ")

    if not line:
        raise ParseError("message has no command")

    head, sep, trailing = line.partition(" :")
    params = [p for p in head.split(" ") if p]
    if sep:
        params.append(trailing)
    command = params.pop(0)
    return Message(command, params, source, tags)


def format_line(
    command: str,
    *params: str,
    source: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Build one line, without CR LF.

    Raises ValueError for anything that would not parse back to the same
    message: callers must never put such lines on the wire.
    """
    if not command or " " in command or command[0] in ":@":
        raise ValueError(f"bad command {command!r}")
    parts: list[str] = []
    if tags:
        for k in tags:
            if not k or " " in k or ";" in k or "=" in k:
                raise ValueError(f"bad tag key {k!r}")
        parts.append("@" + ";".join(
            f"{k}={escape_tag_value(v)}" if v else k
            for k, v in tags.items()
        ))
    if source is not None:
        if not source or " " in source:
            raise ValueError(f"bad source {source!r}")
        parts.append(":" + source)
    parts.append(command)
    if params:
        last = params[-1]
        for p in params[:-1]:
            if not p or " " in p or p[0] == ":":
                raise ValueError(f"bad middle param {p!r}")
            parts.append(p)
        if not last or " " in last or last[0] == ":":
            last = ":" + last
        parts.append(last)
    line = " ".join(parts)
    # One scan of the whole line covers command, source, tag keys and params
    # (tag values are already escaped).
    if "\r" in line or "\n" in line or "\0" in line:
        raise ValueError(f"CR, LF or NUL in line {line!r}")
    return line


# --- bytes ------------------------------------------------------------------


def decode_line(raw: bytes) -> str:
    """Decode a raw line: UTF-8, falling back to latin-1.

    Old clients still send latin-1/cp1252, and we never drop a connection
    over encoding.  latin-1 (not cp1252) because it maps every byte, so this
    can never raise.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def check_length(raw: bytes) -> str | None:
    """Check one raw line (without LF, maybe with CR) against the limits.

    Returns None if it fits, "tags" if the tags part is longer than
    MAX_TAGS_BYTES, "line" if the rest (plus CR LF) is longer than
    MAX_LINE_BYTES.
    """
    n = len(raw)
    if raw.endswith(b"\r"):
        n -= 1
    # Common case: the whole line fits the smaller limit, tags or not.
    if n + 2 <= MAX_LINE_BYTES:
        return None
    tags_len = 0
    if raw.startswith(b"@"):
        space = raw.find(b" ", 0, n)
        # The tags part includes its trailing space; a line with no space
        # is all tags (and not a message, which the parser will say).
        tags_len = n if space < 0 else space + 1
        if tags_len > MAX_TAGS_BYTES:
            return "tags"
    if n - tags_len + 2 > MAX_LINE_BYTES:
        return "line"
    return None


# --- sources, masks, hostnames ---------------------------------------------


def split_source(source: str) -> tuple[str, str, str]:
    """Split "nick!user@host" into (nick, user, host); missing parts are ""."""
    # Nicks and usernames can't contain '@' or '!', so the first ones split.
    head, _, host = source.partition("@")
    nick, _, user = head.partition("!")
    return nick, user, host


_HOST_LABEL_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
)


def is_valid_hostname(host: str) -> bool:
    """Whether host is acceptable as a server or client hostname.

    LDH labels (no leading/trailing '-', no '_'), at least one dot (a bare
    "com" is not an IRC hostname), one trailing dot allowed.
    """
    if "." not in host or len(host) > 254:
        return False
    host = host.removesuffix(".")
    if len(host) > 253:
        return False
    for label in host.split("."):
        if (
            not label
            or len(label) > 63
            or label[0] == "-"
            or label[-1] == "-"
            or not _HOST_LABEL_CHARS.issuperset(label)
        ):
            return False
    return True
