from __future__ import annotations

import pytest

from words.casemap import get_casefold


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Alice", "alice"),
        ("#Chan-1_x", "#chan-1_x"),
        ("Nick[Away]", "nick{away}"),  # []\~ are the capitals of {}|^
        ("a\\b~c", "a|b^c"),
        ("{}|^", "{}|^"),
        ("", ""),
        ("Ärger[X]", "Ärger{x}"),  # beyond ASCII only the ASCII letters and []\~ fold
        ("ÄÖÜ", "ÄÖÜ"),
        ("Straße", "straße"),
    ],
)
def test_rfc1459(name: str, folded: str) -> None:
    assert get_casefold("rfc1459")(name) == folded


@pytest.mark.parametrize(
    ("name", "folded"),
    [
        ("Alice", "alice"),
        ("Nick[Away]", "nick[away]"),  # brackets are their own case under ascii
        ("a\\b~C", "a\\b~c"),
        ("Ärger[X]", "Ärger[x]"),
        ("ÄÖÜ", "ÄÖÜ"),
    ],
)
def test_ascii(name: str, folded: str) -> None:
    assert get_casefold("ascii")(name) == folded


def test_unknown_mapping() -> None:
    with pytest.raises(ValueError, match="unknown casemapping 'unicode'"):
        get_casefold("unicode")


@pytest.mark.parametrize("mapping", ["rfc1459", "ascii"])
def test_a_folded_name_is_its_own_fold(mapping: str) -> None:
    fold = get_casefold(mapping)
    for name in ("alice", "#chan", "nick{x}", "ärger"):
        assert fold(name) is name  # the same string: a user's name and folded name share it
    assert fold("Alice") == "alice" and fold("Alice") is not fold("Alice")
