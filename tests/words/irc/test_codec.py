"""Tests for words.irc.codec: the ircdocs parser-tests vectors plus our own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from words.irc.codec import (
    MAX_LINE_BYTES,
    MAX_TAGS_BYTES,
    Message,
    ParseError,
    check_length,
    decode_line,
    escape_tag_value,
    format_line,
    is_valid_hostname,
    mask_to_regex,
    match_mask,
    parse_line,
    split_source,
    unescape_tag_value,
)

VECTORS_DIR = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "testdata"
    / "irc-parser-tests"
)


def _vectors(name: str, id_key: str) -> list[Any]:
    """One pytest.param per vector; a missing file becomes one failing case.

    Failing at collection time would abort the whole session, so the
    absence is reported by a test instead (and never skipped).
    """
    path = VECTORS_DIR / name
    if not path.is_file():
        return [pytest.param(None, id=f"{name}-missing")]
    tests = yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(t, id=f"{i:02d}-{str(t.get(id_key, ''))[:60]}")
        for i, t in enumerate(tests)
    ]


def _need(vector: Any) -> dict[str, Any]:
    if vector is None:
        pytest.fail(f"IRC parser test vectors not found in {VECTORS_DIR}")
    return vector


# --- vectors -----------------------------------------------------------------


@pytest.mark.parametrize("vector", _vectors("msg-split.yaml", "input"))
def test_msg_split(vector: Any) -> None:
    v = _need(vector)
    atoms = v["atoms"]
    msg = parse_line(v["input"])
    assert msg.tags == atoms.get("tags")
    assert msg.source == atoms.get("source")
    assert msg.command == atoms.get("verb")
    assert msg.params == atoms.get("params", [])


@pytest.mark.parametrize("vector", _vectors("msg-join.yaml", "desc"))
def test_msg_join(vector: Any) -> None:
    v = _need(vector)
    atoms = v["atoms"]
    line = format_line(
        atoms["verb"],
        *atoms.get("params", []),
        source=atoms.get("source"),
        tags=atoms.get("tags"),
    )
    assert line in v["matches"]
    msg = Message(
        atoms["verb"], list(atoms.get("params", [])), atoms.get("source"),
        atoms.get("tags"),
    )
    assert msg.to_line() == line


@pytest.mark.parametrize("vector", _vectors("userhost-split.yaml", "source"))
def test_userhost_split(vector: Any) -> None:
    v = _need(vector)
    atoms = v["atoms"]
    expected = tuple(atoms.get(k, "") for k in ("nick", "user", "host"))
    assert split_source(v["source"]) == expected


@pytest.mark.parametrize("vector", _vectors("mask-match.yaml", "mask"))
def test_mask_match(vector: Any) -> None:
    v = _need(vector)
    for target in v.get("matches", []):
        assert match_mask(v["mask"], target), target
    for target in v.get("fails", []):
        assert not match_mask(v["mask"], target), target


@pytest.mark.parametrize("vector", _vectors("validate-hostname.yaml", "host"))
def test_validate_hostname(vector: Any) -> None:
    v = _need(vector)
    assert is_valid_hostname(v["host"]) is v["valid"]


# --- parse_line --------------------------------------------------------------


@pytest.mark.parametrize(
    "line", ["", "   ", "@a=b", ":src", "@a=b :src", ":src  ", "\r\n"]
)
def test_parse_rejects_non_messages(line: str) -> None:
    with pytest.raises(ParseError):
        parse_line(line)


def test_parse_error_is_value_error() -> None:
    assert issubclass(ParseError, ValueError)


def test_parse_tolerates_crlf_and_leading_spaces() -> None:
    msg = parse_line("   PRIVMSG #c :hi there\r\n")
    assert msg == Message("PRIVMSG", ["#c", "hi there"])
    assert parse_line(":n!u@h   PING  x\n") == Message("PING", ["x"], "n!u@h")


def test_parse_keeps_command_case_and_nick() -> None:
    msg = parse_line(":nick!user@host privmsg #chan :x")
    assert msg.command == "privmsg"
    assert msg.nick == "nick"
    assert parse_line("PING x").nick is None
    assert parse_line(":irc.example.com NOTICE * :x").nick == "irc.example.com"


# --- format_line -------------------------------------------------------------


TRICKY_PARAMS = [
    ("#chan", "hello"),
    ("#chan", ""),
    ("#chan", ":starts with colon"),
    ("#chan", ":"),
    ("#chan", "  lead and trail  "),
    ("#chan", "a:b"),
    ("#chan", "tab\there"),
    ("#chan", "ünïcødé ☃ 🐍"),
    ("a:b", "c"),
    (),
]


@pytest.mark.parametrize("params", TRICKY_PARAMS, ids=repr)
def test_round_trip_params(params: tuple[str, ...]) -> None:
    line = format_line("PRIVMSG", *params, source="n!u@h")
    assert parse_line(line) == Message("PRIVMSG", list(params), "n!u@h")


TRICKY_TAG_VALUES = [
    "",
    "plain",
    "a;b",
    "with space",
    "back\\slash",
    "\\",
    "\\\\s",
    "cr\rlf\n",
    "\\:;\\s \r\n",
    "=equals=",
    "ünï ☃",
]


@pytest.mark.parametrize("value", TRICKY_TAG_VALUES, ids=repr)
def test_round_trip_tag_values(value: str) -> None:
    escaped = escape_tag_value(value)
    for bad in " ;\r\n":
        assert bad not in escaped
    assert unescape_tag_value(escaped) == value
    tags = {"time": "2024-01-01T00:00:00.000Z", "+draft/x": value}
    line = format_line("TAGMSG", "#c", tags=tags)
    assert parse_line(line).tags == tags


def test_format_empty_tags_and_no_params() -> None:
    assert format_line("PING", tags={}) == "PING"
    assert format_line("AWAY", source="src") == ":src AWAY"
    assert format_line("X", tags={"k": ""}) == "@k X"


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\0b", "\r", "\n"], ids=repr)
def test_format_rejects_cr_lf_nul(bad: str) -> None:
    with pytest.raises(ValueError):
        format_line("PRIVMSG", "#c", bad)
    with pytest.raises(ValueError):
        format_line("PRIVMSG", bad, "x")
    with pytest.raises(ValueError):
        format_line("PRIVMSG", "#c", "x", source="s" + bad)
    with pytest.raises(ValueError):
        format_line("PRIV" + bad)


def test_format_rejects_nul_in_tag_value() -> None:
    with pytest.raises(ValueError):
        format_line("TAGMSG", "#c", tags={"k": "a\0b"})


@pytest.mark.parametrize("bad", ["", "a b", ":x", ":"], ids=repr)
def test_format_rejects_bad_middle_params(bad: str) -> None:
    with pytest.raises(ValueError):
        format_line("MODE", "#c", bad, "x")


@pytest.mark.parametrize("bad", ["", "A B", ":X"], ids=repr)
def test_format_rejects_bad_command(bad: str) -> None:
    with pytest.raises(ValueError):
        format_line(bad, "x")


# --- decode_line -------------------------------------------------------------


def test_decode_valid_utf8_multibyte() -> None:
    text = "PRIVMSG #c :héllo ☃ 🐍 日本"
    assert decode_line(text.encode("utf-8")) == text


def test_decode_invalid_utf8_falls_back_to_latin1() -> None:
    raw = "PRIVMSG #c :caf\xe9 \x93quoted\x94".encode("latin-1")
    assert decode_line(raw) == raw.decode("latin-1")
    # Truncated multi-byte sequence and stray continuation byte.
    assert decode_line(b"\xe2\x98") == "\xe2\x98"
    assert decode_line(b"\x80abc") == "\x80abc"
    # Every byte value decodes, so it never raises.
    assert len(decode_line(bytes(range(256)))) == 256


# --- check_length ------------------------------------------------------------


def _body(n: int) -> bytes:
    """A message part of exactly n bytes (without CR LF)."""
    prefix = b"PRIVMSG #c :"
    return prefix + b"x" * (n - len(prefix))


def test_check_length_exact_limit_allowed() -> None:
    assert len(_body(510)) + 2 == MAX_LINE_BYTES
    assert check_length(_body(510)) is None
    assert check_length(_body(510) + b"\r") is None


def test_check_length_one_over_rejected() -> None:
    assert check_length(_body(511)) == "line"
    assert check_length(_body(511) + b"\r") == "line"


def test_check_length_short_lines() -> None:
    assert check_length(b"") is None
    assert check_length(b"PING x\r") is None


def _tags(n: int) -> bytes:
    """A tags part of exactly n bytes, including '@' and the trailing space."""
    return b"@k=" + b"v" * (n - 4) + b" "


def test_check_length_tags_exact_limit_allowed() -> None:
    assert len(_tags(MAX_TAGS_BYTES)) == MAX_TAGS_BYTES
    assert check_length(_tags(MAX_TAGS_BYTES) + _body(510)) is None
    assert check_length(_tags(MAX_TAGS_BYTES) + _body(510) + b"\r") is None


def test_check_length_tags_one_over_rejected() -> None:
    assert check_length(_tags(MAX_TAGS_BYTES + 1) + b"PING x") == "tags"


def test_check_length_line_limit_with_tags() -> None:
    assert check_length(_tags(100) + _body(511)) == "line"
    assert check_length(_tags(100) + _body(510)) is None


def test_check_length_tags_without_message() -> None:
    assert check_length(b"@" + b"a" * 9000) == "tags"
    assert check_length(b"@" + b"a" * 1000) is None


# --- masks and sources -------------------------------------------------------


def test_mask_wildcards_and_literals() -> None:
    assert match_mask("*", "")
    assert match_mask("*", "anything!at@all")
    assert match_mask("a**b", "ab")
    assert not match_mask("?", "")
    assert match_mask("n\\ck!*@*", "n\\ck!u@h")
    assert match_mask("a.b", "a.b")
    assert not match_mask("a.b", "axb")
    assert match_mask("*!*@*", "n!u@line\nbreak")
    # Case-sensitive at this level: callers casefold first.
    assert not match_mask("Nick!*@*", "nick!u@h")


def test_mask_to_regex_is_cached() -> None:
    assert mask_to_regex("foo*!*@bar") is mask_to_regex("foo*!*@bar")
    assert mask_to_regex("foo*").match("foobar")
    assert not mask_to_regex("foo").match("foobar")


def test_mask_many_stars_is_fast() -> None:
    # Collapsed star runs keep this from backtracking badly.
    assert not match_mask("*" * 200 + "b", "a" * 500)
