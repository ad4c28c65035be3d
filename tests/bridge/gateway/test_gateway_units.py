"""The gateway's pure parts: XEP-0106 addresses, nicks, formatting, splitting, history requests."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bridge.gateway.addresses import (
    escape_node,
    irc_nick,
    nick_candidates,
    unescape_node,
    valid_nick,
)
from bridge.gateway.history import Wanted, wanted
from bridge.gateway.text import irc_lines, irc_to_xmpp, strip_irc, xmpp_to_irc


@pytest.mark.parametrize(("text", "node"), [
    ("#chan", "#chan"),
    ("a b", "a\\20b"),
    ("it's&me", "it\\27s\\26me"),
    ("x@y/z:w", "x\\40y\\2fz\\3aw"),
    ('"<>"', "\\22\\3c\\3e\\22"),
    ("c:\\5c", "c\\3a\\5c5c"),  # a backslash that would read as an escape is escaped
    ("a\\b", "a\\b"),  # one that would not is left alone
])
def test_xep_0106_escaping_round_trips(text, node) -> None:
    assert escape_node(text) == node
    assert unescape_node(node) == text


def test_unescaping_never_fails_on_what_a_peer_sends() -> None:
    # slixmpp's own unescape_node panics on this (a Rust index error).
    assert unescape_node("x\\y") == "x\\y"
    assert unescape_node("a\\") == "a\\"
    assert unescape_node("A\\2F\\zz") == "A/\\zz"


def test_muc_nicks_become_irc_nicks() -> None:
    assert irc_nick("alice", 30) == "alice"
    assert irc_nick("Anne Marie", 30) == "Anne_Marie"
    assert irc_nick("9lives", 30) == "_9lives"
    assert irc_nick("Zoë", 30) == "Zo_"
    assert irc_nick("x" * 40, 30) == "x" * 30
    assert valid_nick("bob[m]", 30) and not valid_nick("a b", 30)
    assert list(nick_candidates("bob", 30))[:4] == ["bob", "bob_", "bob1", "bob2"]
    assert list(nick_candidates("x" * 30, 30))[1] == "x" * 29 + "_"


@pytest.mark.parametrize(("irc", "xmpp"), [
    ("\x02bold\x02", "*bold*"),
    ("\x1ditalic\x1d and \x1estrike\x1e \x11mono\x11", "_italic_ and ~strike~ `mono`"),
    ("\x02open to the end", "*open to the end*"),
    ("\x02b\x1dbi\x0f plain", "*b_bi_* plain"),
    ("\x0304,01red\x03 \x1funderlined\x1f", "red underlined"),
    ("\x02\x02", ""),
])
def test_irc_formatting_as_styling(irc, xmpp) -> None:
    assert irc_to_xmpp(irc) == xmpp


def test_irc_formatting_stripped() -> None:
    assert irc_to_xmpp("\x02b\x02 \x0312blue\x03", "strip") == "b blue"
    assert strip_irc("\x1d\x1e\x11\x16x\x0f") == "x"


@pytest.mark.parametrize(("xmpp", "irc"), [
    ("*bold* _it_ ~gone~ `code`", "\x02bold\x02 \x1dit\x1d \x1egone\x1e \x11code\x11"),
    ("2*3*4 and snake_case_name", "2*3*4 and snake_case_name"),
    ("* not bold *", "* not bold *"),
    ("```\n*kept*\n```", "```\n*kept*\n```"),
])
def test_styling_as_irc_formatting(xmpp, irc) -> None:
    assert xmpp_to_irc(xmpp) == irc
    assert xmpp_to_irc(xmpp, "strip") == xmpp


def test_lines_fit_the_relayed_irc_line() -> None:
    text = "é" * 600 + " tail\nsecond line\n\nthird"
    lines = irc_lines(text, "alice", "alice@localhost", "PRIVMSG", "#chan")
    for line in lines:
        assert len(f":alice!alice@localhost PRIVMSG #chan :{line}\r\n".encode()) <= 512
    assert "".join(lines[:-2]).replace(" ", "") == "é" * 600 + "tail"
    assert lines[-2:] == ["second line", "third"]


def test_an_error_condition_slixmpp_would_replace_is_refused() -> None:
    from bridge.gateway.stanzas import set_error

    # RFC 6120 has policy-violation, slixmpp 1.17 does not: it would send
    # feature-not-implemented instead, so the gateway never asks for it.
    with pytest.raises(ValueError):
        set_error(None, "policy-violation", "cancel")


NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(("attributes", "expected"), [
    (None, Wanted(20)),
    ({}, Wanted(20)),
    ({"maxstanzas": "5"}, Wanted(5)),
    ({"maxstanzas": "50"}, Wanted(20)),  # the gateway's limit caps the client's
    ({"maxchars": "0"}, Wanted(0, None, 0)),  # 0: no history at all
    ({"maxchars": "500", "maxstanzas": "3"}, Wanted(3, None, 500)),
    ({"seconds": "60"}, Wanted(20, NOW - 60)),
    ({"since": "2023-11-14T22:00:00Z"}, Wanted(20, NOW - 800)),
    ({"since": "2023-11-14T22:00:00.500+00:00"}, Wanted(20, NOW - 799.5)),
    # Both: the later bound (the least that satisfies both).
    ({"since": "2023-11-14T22:00:00Z", "seconds": "60"}, Wanted(20, NOW - 60)),
    ({"since": "2023-11-14T22:13:00Z", "seconds": "60"}, Wanted(20, NOW - 20)),
    # Not numbers or dates: as if not given.
    ({"maxstanzas": "-1", "maxchars": "lots", "seconds": "1.5", "since": "yesterday"},
     Wanted(20)),
])
def test_a_history_request_within_the_gateways_limit(attributes, expected) -> None:
    element = None if attributes is None else ET.Element("history", attributes)
    assert wanted(element, 20, now=NOW) == expected
