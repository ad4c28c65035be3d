"""Namespaces and small builders for the stanzas the gateway sends.

slixmpp's MUC plugin is for clients; a service builds its own `<x>` payloads.
Every builder takes the live ComponentXMPP and always sets the sender, as a
component may send from any JID of its domain.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from words.irc.tags import server_time

MUC = "http://jabber.org/protocol/muc"
MUC_USER = MUC + "#user"
MUC_ADMIN = MUC + "#admin"
MUC_OWNER = MUC + "#owner"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
PING = "urn:xmpp:ping"
REGISTER = "jabber:iq:register"
DELAY = "urn:xmpp:delay"
STANZA_ID = "urn:xmpp:sid:0"
CORRECT = "urn:xmpp:message-correct:0"
REPLY = "urn:xmpp:reply:0"
FALLBACK = "urn:xmpp:fallback:0"
REACTIONS = "urn:xmpp:reactions:0"
DATA_FORMS = "jabber:x:data"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

# Status codes of XEP-0045.
SELF = "110"
NICK_CHANGED = "210"  # the service changed the nick asked for
NEW_NICK = "303"
KICKED = "307"
BANNED = "301"
SHUTDOWN = "332"


def el(tag: str, attrib: dict[str, str] | None = None, text: str | None = None,
       children: list[ET.Element] = ()) -> ET.Element:
    element = ET.Element(tag, {k: v for k, v in (attrib or {}).items() if v is not None})
    if text is not None:
        element.text = text
    element.extend(children)
    return element


def muc_user_x(affiliation: str, role: str, codes: tuple[str, ...] = (), *,
               nick: str | None = None, actor: str | None = None,
               reason: str | None = None, jid: str | None = None) -> ET.Element:
    """`<x xmlns=muc#user><item .../><status code=.../></x>` of an occupant's presence."""
    item = el(f"{{{MUC_USER}}}item",
              {"affiliation": affiliation, "role": role, "jid": jid, "nick": nick})
    if actor:
        item.append(el(f"{{{MUC_USER}}}actor", {"nick": actor}))
    if reason:
        item.append(el(f"{{{MUC_USER}}}reason", text=reason))
    x = el(f"{{{MUC_USER}}}x", children=[item])
    x.extend(el(f"{{{MUC_USER}}}status", {"code": code}) for code in codes)
    return x


def presence(xmpp: Any, pfrom: str, pto: str, ptype: str | None = None) -> Any:
    stanza = xmpp.make_presence(pfrom=pfrom, pto=pto)
    if ptype:
        stanza["type"] = ptype
    return stanza


def message(xmpp: Any, mfrom: str, mto: str, mtype: str, body: str | None = None,
            msgid: str | None = None) -> Any:
    stanza = xmpp.make_message(mto=mto, mfrom=mfrom, mtype=mtype)
    if body is not None:
        stanza["body"] = body
    if msgid:
        stanza["id"] = msgid
    return stanza


def delay(by: str, when: float) -> ET.Element:
    # IRC's server-time format is an XEP-0082 date-time too: both sides show the same stamp.
    return el(f"{{{DELAY}}}delay", {"from": by, "stamp": server_time(when)})


def stanza_id(msgid: str, by: str) -> ET.Element:
    return el(f"{{{STANZA_ID}}}stanza-id", {"id": msgid, "by": by})


def set_error(stanza: Any, condition: str, etype: str, text: str | None = None) -> Any:
    """Turn `stanza` into an error of `condition` (RFC 6120) with a human text."""
    from slixmpp.stanza import Error

    # slixmpp silently keeps feature-not-implemented for a condition it does not know.
    if condition not in Error.conditions:
        raise ValueError(f"slixmpp cannot send the condition {condition!r}")
    stanza["type"] = "error"
    stanza["error"]["type"] = etype
    stanza["error"]["condition"] = condition
    if text:
        stanza["error"]["text"] = text
    return stanza
