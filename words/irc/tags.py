"""IRCv3 message tags on what the server relays: server-time, msgid, account, client tags;
and the label of labeled-response.

Which tags a client gets depends on three capabilities; a connection's
"variant" is which of them it enabled, and each event is rendered once per
variant that its recipients have.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from words.irc.codec import escape_tag_value
from words.realm.events import millis

if TYPE_CHECKING:
    from words.realm import User
    from words.realm.events import Event

# The order of a variant tuple: the tag capabilities, then extended-join
# (which changes the JOIN line itself, so its clients need bytes of their own).
TAG_CAPS = ("server-time", "message-tags", "account-tag")
VARIANT_CAPS = (*TAG_CAPS, "extended-join")


def server_time(stamp: float) -> str:
    """ISO 8601 in UTC with milliseconds, as server-time wants: 2026-11-22T05:41:02.123Z."""
    seconds, ms = divmod(millis(stamp), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def render_tags(event: Event, source: User | str | None, variant: tuple[bool, ...],
                msgid: bool = True) -> dict[str, str]:
    """The tags of a line `event` is sent as, for a client of `variant` (see VARIANT_CAPS).

    `msgid` False: a line that is not the event itself (the AWAY that follows a JOIN,
    a fallback line), which must not carry the event's msgid.
    """
    want_time, want_message_tags, want_account = variant[:3]
    tags: dict[str, str] = {}
    if want_time:
        tags["time"] = server_time(event.time)
    if want_message_tags:
        client_tags = getattr(event, "tags", None)
        if client_tags:
            tags.update(client_tags)
        if msgid:
            tags["msgid"] = event.msgid
        if source is not None and not isinstance(source, str) and "bot" in source.flags:
            tags["bot"] = ""  # bot mode: messages from +B users say so
    if want_account and source is not None and not isinstance(source, str):
        if source.account:
            tags["account"] = source.account
    return tags


def label_lines(data: bytes, label: str, batch_id: str, server_name: str) -> bytes:
    """The response `data` (lines with CR LF) to a command labelled `label` (labeled-response).

    No line: a labelled ACK. One line: that line with the label. More: a
    `labeled-response` batch whose start carries the label.
    """
    label_tag = b"label=" + escape_tag_value(label).encode("utf-8", "replace")
    lines = [line for line in data.split(b"\r\n") if line]
    if not lines:
        return b"@" + label_tag + b" :" + server_name.encode() + b" ACK\r\n"
    if len(lines) == 1:
        return _with_tag(lines[0], label_tag) + b"\r\n"
    ref = batch_id.encode()
    source = b":" + server_name.encode()
    out = [b"@" + label_tag + b" " + source + b" BATCH +" + ref + b" labeled-response"]
    # A line inside a batch of its own (a chathistory batch) keeps that tag: the
    # nested batch's BATCH lines carry the outer reference (IRCv3 batch nesting).
    out.extend(line if _in_batch(line) else _with_tag(line, b"batch=" + ref) for line in lines)
    out.append(source + b" BATCH -" + ref)
    return b"\r\n".join(out) + b"\r\n"


def _in_batch(line: bytes) -> bool:
    if not line.startswith(b"@"):
        return False
    tags = line[1:].split(b" ", 1)[0]
    return any(item.startswith(b"batch=") for item in tags.split(b";"))


def _with_tag(line: bytes, tag: bytes) -> bytes:
    """`line` with `tag` (b"key=value") first among its tags."""
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line
