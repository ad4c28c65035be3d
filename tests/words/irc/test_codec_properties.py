"""Property tests of the line codec: round trips, and no input makes it raise unexpectedly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from words.irc.codec import (
    Message,
    ParseError,
    check_length,
    decode_line,
    format_line,
    parse_line,
)

FORBIDDEN = "\0\r\n"
text = st.text(st.characters(blacklist_characters=FORBIDDEN, blacklist_categories=("Cs",)))
middle = text.filter(lambda p: p and " " not in p and not p.startswith(":"))
command = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12) | st.from_regex(r"\A[0-9]{3}\Z")
tag_key = st.from_regex(r"\A\+?[a-z][a-z0-9\-]{0,15}(/[a-z0-9\-]{1,10})?\Z")
source = st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9\-\[\]]{0,15}(![a-z~]{1,10}@[a-z0-9.]{1,20})?\Z")


@settings(max_examples=300, deadline=None)
@given(command, st.lists(middle, max_size=8), st.one_of(st.none(), text), st.one_of(st.none(), source),
       st.dictionaries(tag_key, text, max_size=4))
def test_format_then_parse_gives_the_message_back(cmd, middles, trailing, src, tags):
    params = middles + ([trailing] if trailing is not None else [])
    line = format_line(cmd, *params, source=src, tags=tags or None)
    parsed = parse_line(line)
    assert parsed == Message(cmd, params, src, tags or None)
    assert parse_line(parsed.to_line()) == parsed


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_parse_raises_only_parse_error(line):
    try:
        message = parse_line(line)
    except ParseError:
        return
    assert message.command


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=10000))
def test_decode_and_length_check_never_raise(raw):
    assert isinstance(decode_line(raw), str)
    assert check_length(raw) in (None, "tags", "line")


# Any text, with the characters the line syntax gives a meaning to coming up often.
anything = st.text(st.sampled_from(list("@:; =\r\n\0\\+/#a1")) | st.characters(), max_size=20)


@settings(max_examples=1000, deadline=None)
@given(anything, st.lists(anything, max_size=6), st.one_of(st.none(), anything),
       st.one_of(st.none(), st.dictionaries(anything, anything, max_size=3)))
def test_format_raises_only_value_error_and_what_it_makes_parses_back(cmd, params, src, tags):
    """format_line's promise: a ValueError, or a line that parses back to the same message."""
    try:
        line = format_line(cmd, *params, source=src, tags=tags)
    except ValueError:
        return
    assert parse_line(line) == Message(cmd, list(params), src, tags or None)
