"""Splitting long messages by bytes, so every piece fits one IRC line.

The server relays our PRIVMSG as `:nick!user@host PRIVMSG target :text` and
cuts (or refuses) anything over 512 bytes with CR LF: the budget for the text
is what is left once that relayed prefix is counted, not what we send.
"""

from __future__ import annotations

from words.irc.codec import MAX_LINE_BYTES

__all__ = [
    "DEFAULT_HOSTLEN",
    "DEFAULT_USERLEN",
    "relayed_source_length",
    "split_text",
    "text_budget",
]

# When the server has not told us our user@host yet, assume the longest the
# usual servers allow: USERLEN 10 (plus '~') and a 63-byte hostname.
DEFAULT_USERLEN = 11
DEFAULT_HOSTLEN = 63


def relayed_source_length(nick: str, userhost: str | None) -> int:
    """Bytes of `nick!user@host` as the server will relay it."""
    if userhost:
        return len(f"{nick}!{userhost}".encode())
    return len(nick.encode()) + 1 + DEFAULT_USERLEN + 1 + DEFAULT_HOSTLEN


def text_budget(
    nick: str,
    userhost: str | None,
    command: str,
    target: str,
    line_limit: int = MAX_LINE_BYTES,
    overhead: int = 0,
) -> int:
    """Bytes left for the text of `:source COMMAND target :text\\r\\n`.

    `overhead` is for wrappers around the text, e.g. 9 for CTCP ACTION.
    """
    fixed = 1 + relayed_source_length(nick, userhost)  # ":" + source
    fixed += 1 + len(command.encode()) + 1 + len(target.encode()) + 2  # " CMD target :"
    fixed += 2  # CR LF
    return line_limit - fixed - overhead


def _cut_point(data: bytes, limit: int) -> int:
    """Where to cut `data` (longer than `limit`): a char boundary, a space if any."""
    cut = limit
    # Back off from UTF-8 continuation bytes (0b10xxxxxx) to a character start.
    while cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    if cut == 0:
        raise ValueError(f"a budget of {limit} bytes cannot hold one character")
    space = data.rfind(b" ", 0, cut + 1)
    # A space too early would make tiny pieces; then a hard cut is better.
    if space > cut // 2:
        return space
    return cut


def split_text(text: str, limit: int) -> list[str]:
    """Split `text` into pieces of at most `limit` UTF-8 bytes each.

    Newlines start a new piece (they cannot be sent inside a line), pieces
    are cut at spaces where possible and never inside a character; empty
    pieces are dropped.
    """
    if limit < 4:
        raise ValueError(f"a budget of {limit} bytes is too small to send text")
    pieces: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        data = line.encode("utf-8")
        while len(data) > limit:
            cut = _cut_point(data, limit)
            head = data[:cut].rstrip(b" ")
            if head:
                pieces.append(head.decode("utf-8"))
            data = data[cut:].lstrip(b" ")
        if data.strip(b" "):
            pieces.append(data.decode("utf-8"))
    return pieces
