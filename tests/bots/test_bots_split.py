"""Splitting by bytes: unit tests, and through a server with multi-byte text."""

from __future__ import annotations

import pytest

from bots.split import relayed_source_length, split_text, text_budget
from bots.testing import RecordingClient


@pytest.mark.parametrize("text", [
    "héllo wörld " * 80,
    "日本語のテキスト" * 60,
    "🎉" * 300,
    "a" * 1000,
    "mixed ascii and ελληνικά and 中文 and emoji 😀 " * 30,
])
@pytest.mark.parametrize("limit", [5, 17, 100, 400])
def test_pieces_fit_and_rejoin(text, limit):
    pieces = split_text(text, limit)
    assert all(0 < len(p.encode()) <= limit for p in pieces)
    # Nothing lost but the spaces where we cut.
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


def test_prefers_word_boundaries():
    pieces = split_text("the quick brown fox jumps over the lazy dog", 12)
    assert pieces == ["the quick", "brown fox", "jumps over", "the lazy dog"]


def test_newlines_start_pieces_and_empty_lines_vanish():
    assert split_text("one\r\ntwo\n\nthree\r", 100) == ["one", "two", "three"]


def test_too_small_budget():
    with pytest.raises(ValueError):
        split_text("abc", 3)


def test_budget_counts_the_relayed_prefix():
    # ":bot!~bot@127.0.0.1 PRIVMSG #c :" + CR LF
    assert text_budget("bot", "~bot@127.0.0.1", "PRIVMSG", "#c") == 512 - 32 - 2
    # Unknown user@host: assume the longest the usual servers allow.
    assert relayed_source_length("bot", None) == 3 + 1 + 11 + 1 + 63
    assert text_budget("bot", None, "PRIVMSG", "#c") < text_budget("bot", "u@h", "PRIVMSG", "#c")


async def test_long_multibyte_message_arrives_whole(irc_server, run_bot, raw_client):
    bot = await run_bot(RecordingClient("bot", burst=20, rate=100), irc_server.port)
    alice = await raw_client(irc_server.port, "alice")
    text = " ".join(f"mot{i}-日本語-ü" for i in range(120))  # ~2 KB, multi-byte
    bot.msg("alice", text)
    got: list[str] = []
    while "".join(got).replace(" ", "") != text.replace(" ", ""):
        msg = await alice.expect("PRIVMSG")
        line = f":{msg.source} PRIVMSG {msg.params[0]} :{msg.params[1]}"
        assert len(line.encode()) + 2 <= 512  # nothing for the server to cut
        got.append(msg.params[1])
    assert len(got) > 3
    # Cut at spaces, never inside a word (each word is far shorter than a line).
    assert all(not p.startswith(" ") and not p.endswith(" ") for p in got)
    assert " ".join(got) == text
