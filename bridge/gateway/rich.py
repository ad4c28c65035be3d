"""What IRC has no form for, said in words: corrections, replies, reactions, /me.

XEP-0308 corrections, XEP-0461 replies and XEP-0444 reactions would be lost
on IRC, or worse, a corrected message would look like a second one; each
becomes explicit text instead, never dropped silently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.gateway import stanzas as S

if TYPE_CHECKING:
    from bridge.gateway.gateway import Gateway

EXCERPT = 40  # characters of a quoted message


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _strip_fallback(msg: Any, body: str) -> str:
    """The body without the reply fallback (the quoted lines a client put in front)."""
    for fallback in msg.xml.findall(f"{{{S.FALLBACK}}}fallback"):
        if fallback.get("for") != S.REPLY:
            continue
        part = fallback.find(f"{{{S.FALLBACK}}}body")
        if part is not None and part.get("start", "").isdecimal() and part.get("end", "").isdecimal():
            start, end = int(part.get("start")), int(part.get("end"))
            return (body[:start] + body[end:]).strip()
    return body


def degrade(gateway: Gateway, msg: Any, body: str) -> tuple[str | None, bool]:
    """(text for IRC, is it an action); text None: nothing to say (a chat state, a marker)."""
    reactions = msg.xml.find(f"{{{S.REACTIONS}}}reactions")
    if reactions is not None and not body:
        emoji = " ".join(r.text or "" for r in reactions.findall(f"{{{S.REACTIONS}}}reaction"))
        quoted = gateway.recall(reactions.get("id", ""))
        about = f" to {quoted[0]}: \"{excerpt(quoted[1])}\"" if quoted else " to a message"
        if not emoji.strip():
            return f"took back a reaction{about}", True
        return f"reacted with {emoji.strip()}{about}", True
    if not body:
        return None, False
    action = body.startswith("/me ")
    if action:
        body = body[4:]
    reply = msg.xml.find(f"{{{S.REPLY}}}reply")
    if reply is not None:
        body = _strip_fallback(msg, body)
        quoted = gateway.recall(reply.get("id", ""))
        to = reply.get("to", "")
        nick = quoted[0] if quoted else to.rpartition("/")[2]
        if nick:
            body = f"{nick}: {body}"
    if msg.xml.find(f"{{{S.CORRECT}}}replace") is not None:
        body = f"[correction] {body}"
    return body, action
