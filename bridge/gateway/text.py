"""Text between IRC and XMPP: formatting, line splitting, and what IRC cannot show.

IRC formatting is a set of toggles (bold ^B, italic ^], strikethrough ^^,
monospace ^Q, underline ^_, colours ^C, reset ^O); XEP-0393 "message
styling" marks spans with *bold*, _italic_, ~strike~ and `mono`. With
formatting "styling" each side's marks become the other's (underline and
colours have no styling form and are dropped); with "strip" IRC codes are
removed and XMPP text goes to IRC as it is.

XMPP messages may hold many lines and any length; IRC carries one line of at
most 512 bytes with its prefix: `irc_lines` cuts them with the bots'
splitter (bytes, at word boundaries, never inside a character).
"""

from __future__ import annotations

import re

from bots.split import split_text, text_budget

BOLD, ITALIC, STRIKE, MONO, UNDERLINE, COLOR, HEXCOLOR, REVERSE, RESET = (
    "\x02", "\x1d", "\x1e", "\x11", "\x1f", "\x03", "\x04", "\x16", "\x0f"
)
# IRC toggle -> styling mark.
_MARKS = {BOLD: "*", ITALIC: "_", STRIKE: "~", MONO: "`"}
_COLOR_CODE = re.compile(r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?")
_ALL_CODES = re.compile(r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
                        r"|[\x02\x1d\x1e\x11\x1f\x16\x0f]")


# XML 1.0 cannot carry C0 controls but tab and line ends: one in a stanza would make
# the XMPP server close the component's stream as not well-formed.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` without the characters XML cannot carry (any IRC code left over)."""
    return _NOT_XML.sub("", text)


def one_line(text: str, limit: int = 0) -> str:
    """XMPP text for a one-line IRC field (a reason, a topic, an away message): line ends
    become spaces, NUL goes, and it is cut to `limit` characters (0: no limit)."""
    text = " ".join(text.replace("\0", "").splitlines()).strip()
    return text[:limit] if limit else text


def is_ctcp(text: str) -> bool:
    """A CTCP request or reply other than ACTION (VERSION, PING...): for IRC clients only."""
    return text.startswith("\x01")


def strip_irc(text: str) -> str:
    """`text` without IRC formatting codes."""
    return xml_safe(_ALL_CODES.sub("", text))


def irc_to_xmpp(text: str, formatting: str = "styling") -> str:
    """An IRC line as XMPP body text: styling marks, or plain text ("strip")."""
    if formatting != "styling":
        return strip_irc(text)
    text = _COLOR_CODE.sub("", text)
    out: list[str] = []
    spans: list[str] = []  # open marks, innermost last
    for char in text:
        mark = _MARKS.get(char)
        if mark is not None:
            if mark in spans:
                # Close it (and reopen what was opened inside it, as styling nests).
                inner = spans[spans.index(mark) + 1:]
                out.extend(reversed(inner))
                out.append(mark)
                spans.remove(mark)
                out.extend(inner)
            else:
                spans.append(mark)
                out.append(mark)
        elif char == RESET:
            out.extend(reversed(spans))
            spans.clear()
        elif char in (UNDERLINE, REVERSE):
            continue
        else:
            out.append(char)
    out.extend(reversed(spans))
    return xml_safe(_drop_empty_spans("".join(out)))


def _drop_empty_spans(text: str) -> str:
    # "**" from a toggle pair with nothing inside is noise, not styling.
    return re.sub(r"(\*\*|__|~~|``)", "", text) if any(m * 2 in text for m in "*_~`") else text


# XEP-0393 spans: the opening mark is not followed by a space, the closing one
# not preceded by one; not inside a word; on one line.
_SPANS = [
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])"), BOLD),
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])"), ITALIC),
    (re.compile(r"(?<![\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])"), STRIKE),
    (re.compile(r"(?<![\w`])`(?=\S)([^`\n]*?\S)`(?![\w`])"), MONO),
]


def xmpp_to_irc(text: str, formatting: str = "styling") -> str:
    """XMPP body text for IRC: styling spans become IRC toggles ("strip": unchanged)."""
    if formatting != "styling":
        return text
    out = []
    in_pre = False
    for line in text.split("\n"):
        if line.startswith("```"):
            in_pre = not in_pre  # a preformatted block is shown as it is
            out.append(line)
            continue
        if not in_pre:
            for pattern, code in _SPANS:
                line = pattern.sub(lambda m, c=code: f"{c}{m.group(1)}{c}", line)
        out.append(line)
    return "\n".join(out)


def irc_lines(text: str, nick: str, userhost: str, command: str, target: str,
              overhead: int = 0) -> list[str]:
    """`text` as IRC lines that each fit once relayed as `:nick!userhost COMMAND target :line`."""
    budget = text_budget(nick, userhost, command, target, overhead=overhead)
    return split_text(text, max(budget, 16))
