"""Nick and channel name rules, and the skeleton that finds look-alike nicks (words.names)."""

from __future__ import annotations

import pytest

from words.casemap import get_casefold
from words.names import (
    CONFUSABLES,
    SkeletonIndex,
    skeleton,
    valid_channel_name,
    valid_nick,
)

fold = get_casefold("rfc1459")


@pytest.mark.parametrize(
    ("nick", "ascii_ok", "utf8_ok"),
    [
        ("alice", True, True),
        ("[away]`_^{|}-9", True, True),
        ("9lives", False, False),  # a digit first
        ("-dash", False, False),
        ("José", False, True),
        ("Ñandú", False, True),
        ("Дмитрий", False, True),
        ("田中", False, True),
        ("é", False, True),
        ("\u0301e", False, False),  # a combining mark cannot come first
        ("ab\u200bc", False, False),  # zero-width space: a format character
        ("a b", False, False),
        ("smile☺", False, False),  # symbols are not nick characters
        ("x٣", False, True),  # any decimal digit after the first
    ],
)
def test_nick_charsets(nick, ascii_ok, utf8_ok):
    assert valid_nick(nick, 30, "ascii") is ascii_ok
    assert valid_nick(nick, 30, "utf8") is utf8_ok


def test_nicklen_counts_characters():
    assert valid_nick("Дмитрий", 7, "utf8")
    assert not valid_nick("Дмитрий", 6, "utf8")


@pytest.mark.parametrize(
    ("name", "rfc", "ascii", "utf8"),
    [
        ("#words", True, True, True),
        ("#café", True, False, True),
        ("#a\u200bb", True, False, False),  # zero-width space
        ("#a\x01b", True, False, False),  # a control character
        ("#a\u00a0b", True, False, False),  # no-break space
        ("#a,b", False, False, False),
        ("#a:b", False, False, False),
        ("#a b", False, False, False),
        ("words", False, False, False),
        ("#", False, False, False),
    ],
)
def test_channel_charsets(name, rfc, ascii, utf8):
    assert valid_channel_name(name, 50, "rfc") is rfc
    assert valid_channel_name(name, 50, "ascii") is ascii
    assert valid_channel_name(name, 50, "utf8") is utf8


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("paypal", "раураl"),  # Cyrillic р, а, у
        ("Alice", "АLICE"),  # Cyrillic А, Latin rest, other case
        ("HOPE", "ΗΟΡΕ"),  # Greek capitals
        ("bob", "ｂｏｂ"),  # fullwidth (NFKC)
        ("Jose", "José"),  # accents are ignored
        ("nick[1]", "NICK{1}"),  # the rfc1459 casemapping still applies
        ("file", "ﬁle"),  # a ligature
        ("ion", "ıon"),  # dotless i
    ],
)
def test_look_alikes_share_a_skeleton(a, b):
    assert a != b
    assert skeleton(a, fold) == skeleton(b, fold)


@pytest.mark.parametrize(("a", "b"), [("alice", "aIice"), ("l33t", "leet"), ("bob", "rob"), ("Дима", "Дина")])
def test_different_nicks_keep_different_skeletons(a, b):
    assert skeleton(a, fold) != skeleton(b, fold)


def test_every_confusable_maps_one_non_ascii_letter_to_one_ascii_letter():
    for char, target in CONFUSABLES.items():
        assert len(char) == 1 and not char.isascii() and char.isalpha(), char
        assert len(target) == 1 and target.isascii() and target.isalpha(), target


def test_the_index_follows_its_owner():
    index = SkeletonIndex(fold)
    alice, other = object(), object()
    index.add("alice", alice)
    assert index.owner("аlice") is alice
    index.remove("аlice", other)  # not the owner: nothing happens
    assert index.owner("ALICE") is alice
    index.remove("alice", alice)
    assert index.owner("аlice") is None and len(index) == 0
