"""Text between IRC and XMPP: nicks, formats, cleaning and splitting. Pure functions.

IRC lines are bytes-limited (512 with CR LF, as relayed with our prefix) and
single-line; XMPP bodies are XML text of any length and may hold newlines.
"""

from __future__ import annotations

import re

from bots.split import split_text

__all__ = [
    "MAX_NICK_CHARS", "ZWSP", "action_body", "break_nick", "clean_for_irc", "clean_for_xmpp",
    "irc_lines", "render", "shown_nick", "strip_irc_formatting",
]

ZWSP = "\u200b"
# A MUC nick may be 1023 bytes: shown in full it would leave no room for the text.
MAX_NICK_CHARS = 50

# mIRC colours (\x03 fg[,bg]), hex colours (\x04 RRGGBB[,RRGGBB]), then the toggles:
# bold, reset, monospace, reverse, italic, strikethrough, underline.
_IRC_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)
# Not allowed in XML 1.0 at all: a body holding one would break the XMPP stream.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Never relayed onto IRC: NUL cannot be sent and \x01 would start a CTCP of ours.
_IRC_INVALID = re.compile("[\x00\x01]")


def strip_irc_formatting(text: str) -> str:
    return _IRC_FORMATTING.sub("", text)


def clean_for_xmpp(text: str) -> str:
    """IRC text as an XMPP body: formatting codes (with their colour numbers) stripped,
    and any other control character XML cannot carry removed."""
    return _XML_INVALID.sub("", strip_irc_formatting(text))


def clean_for_irc(text: str) -> str:
    """XMPP text for IRC: no NUL or CTCP delimiter; line ends are kept for splitting."""
    return _IRC_INVALID.sub("", text)


def shown_nick(nick: str, break_highlights: bool) -> str:
    """A nick as shown on IRC: bounded in length, and optionally made not to highlight."""
    nick = clean_for_irc(" ".join(nick.split()))
    if len(nick) > MAX_NICK_CHARS:
        nick = nick[: MAX_NICK_CHARS - 1] + "\u2026"
    return break_nick(nick) if break_highlights else nick


def break_nick(nick: str) -> str:
    """`nick` with a zero-width space after its first character: shows the same,
    but no longer matches the nick, so IRC clients do not highlight its owner."""
    return nick[:1] + ZWSP + nick[1:] if len(nick) > 1 else nick


def render(fmt: str, nick: str, text: str) -> str:
    # `text` is a value, never parsed as a format: braces in messages are safe.
    return fmt.format(nick=nick, text=text)


def action_body(body: str) -> str | None:
    """The action of an XMPP "/me ..." body (XEP-0245), or None for a plain message."""
    if body.startswith("/me ") and body[4:].strip():
        return body[4:]
    return None


def irc_lines(fmt: str, nick: str, text: str, budget: int, max_lines: int) -> list[str]:
    """The IRC lines for `text` said by `nick`: one per line of the text, each cut to
    fit `budget` bytes *with* the format around it, so every line says who spoke.

    More than `max_lines` lines: the last one says how many were not relayed.
    """
    head, _, tail = render(fmt, nick, "\0").partition("\0")
    room = budget - len(head.encode()) - len(tail.encode())
    if room < 16:
        raise ValueError(f"the format {fmt!r} leaves {room} bytes for text")
    lines = [head + piece + tail for piece in split_text(clean_for_irc(text), room)]
    if len(lines) > max_lines:
        cut = len(lines) - max_lines + 1
        lines = lines[: max_lines - 1] + [f"{head}[{cut} more lines not relayed]{tail}"]
    return lines
