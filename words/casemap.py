"""Name folding for nicks and channel names (IRC casemappings).

The realm compares names through one of these functions, so IRC and the XMPP
gateway agree on which names are "the same". Folded names are cached: the
same few thousand names are folded for every message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

_UPPER_ASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER_ASCII = "abcdefghijklmnopqrstuvwxyz"

# rfc1459: []\~ are the upper case of {}|^ (Scandinavian heritage of IRC).
_RFC1459 = str.maketrans(_UPPER_ASCII + "[]\\~", _LOWER_ASCII + "{}|^")
_ASCII = str.maketrans(_UPPER_ASCII, _LOWER_ASCII)

CASEMAPPINGS = ("rfc1459", "ascii")


def _make(table: dict[int, int]) -> Callable[[str], str]:
    @lru_cache(maxsize=65536)
    def fold(name: str) -> str:
        return name.translate(table)

    return fold


_FOLDERS = {"rfc1459": _make(_RFC1459), "ascii": _make(_ASCII)}


def get_casefold(mapping: str) -> Callable[[str], str]:
    """The folding function for a CASEMAPPING name; ValueError if unknown."""
    try:
        return _FOLDERS[mapping]
    except KeyError:
        raise ValueError(
            f"unknown casemapping {mapping!r} (choose one of: {', '.join(CASEMAPPINGS)})"
        ) from None
