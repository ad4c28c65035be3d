"""bridge.relay.text: nicks, cleaning, formats and splitting, without any network."""

from __future__ import annotations

import pytest

from bridge.relay.text import (
    MAX_NICK_CHARS,
    ZWSP,
    action_body,
    break_nick,
    clean_for_irc,
    clean_for_xmpp,
    irc_lines,
    render,
    shown_nick,
)


def test_break_nick_puts_a_zero_width_space_after_the_first_character():
    assert break_nick("alice") == f"a{ZWSP}lice"
    assert break_nick("é") == "é"
    assert shown_nick("alice", break_highlights=False) == "alice"


def test_shown_nick_is_one_bounded_line_without_ctcp_or_nul():
    assert shown_nick("a\x01b\x00c\nd", break_highlights=False) == "abc d"
    long = shown_nick("x" * 200, break_highlights=False)
    assert len(long) == MAX_NICK_CHARS and long.endswith("\u2026")


def test_cleaning():
    assert clean_for_xmpp("\x02b\x02 \x0312,4c\x03 \x04FF0000hex\x04 \x1fu\x1f\x0f") == "b c hex u"
    # Formatting codes are control characters, which XML cannot carry at all.
    assert clean_for_xmpp("a\x07b\x1bc\ufffed\te") == "abcd\te"
    assert clean_for_irc("a\x00b\x01c\nd") == "abc\nd"


def test_render_never_parses_the_text_as_a_format():
    assert render("<{nick}> {text}", "bob", "{nick} {0} {") == "<bob> {nick} {0} {"


def test_action_body():
    assert action_body("/me waves") == "waves"
    assert action_body("/me ") is None
    assert action_body("/mets") is None
    assert action_body("say /me waves") is None


def test_irc_lines_fit_the_budget_with_the_format_on_every_line():
    text = " ".join(["abcdefghi"] * 30)  # 299 characters
    lines = irc_lines("<{nick}> {text}", "bob", text, budget=100, max_lines=10)
    assert all(len(line.encode()) <= 100 and line.startswith("<bob> ") for line in lines)
    assert " ".join(line.removeprefix("<bob> ") for line in lines) == text
    assert len(lines) == 4


def test_irc_lines_cut_multi_byte_text_on_character_boundaries():
    lines = irc_lines("{nick}: {text}", "b", "é" * 101, budget=54, max_lines=10)
    assert [len(line.encode()) for line in lines] == [53, 53, 53, 53, 5]  # 25 é, not 25.5
    assert "".join(line[3:] for line in lines) == "é" * 101


def test_irc_lines_are_limited_and_say_how_many_were_cut():
    text = "\n".join(f"line {i}" for i in range(10))
    assert irc_lines("<{nick}> {text}", "bob", text, 100, max_lines=3) == [
        "<bob> line 0", "<bob> line 1", "<bob> [8 more lines not relayed]"]


def test_a_format_leaving_no_room_is_an_error():
    with pytest.raises(ValueError, match="leaves 4 bytes for text"):
        irc_lines("{nick}: {text}", "n" * 8, "hi", budget=14, max_lines=3)
