"""Name folding for nicks and channel names (IRC casemappings).

The realm compares names through one of these functions, so IRC and the XMPP
gateway agree on which names are "the same". Nothing is cached: an ASCII name
(nearly all of them) folds with `str.lower`, about as fast as a cache hit, and
a cache would keep every name ever seen, pinning the allocator's memory long
after its user left (bench/README.md, memory).
"""

from __future__ import annotations

from collections.abc import Callable

_UPPER_ASCII = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER_ASCII = "abcdefghijklmnopqrstuvwxyz"

# rfc1459: []\~ are the upper case of {}|^ (Scandinavian heritage of IRC).
_RFC1459 = str.maketrans(_UPPER_ASCII + "[]\\~", _LOWER_ASCII + "{}|^")
_ASCII = str.maketrans(_UPPER_ASCII, _LOWER_ASCII)

CASEMAPPINGS = ("rfc1459", "ascii")


# A name already in folded form is returned itself, not an equal copy: users and groups
# keep their name and its folded form, which is then one string.


def _fold_rfc1459(name: str) -> str:
    if name.isascii():
        folded = name.lower()
        if "[" in folded or "]" in folded or "\\" in folded or "~" in folded:
            folded = folded.translate(_RFC1459)
    else:
        folded = name.translate(_RFC1459)  # only ASCII letters fold, whatever the script
    return name if folded == name else folded


def _fold_ascii(name: str) -> str:
    folded = name.lower() if name.isascii() else name.translate(_ASCII)
    return name if folded == name else folded


_FOLDERS = {"rfc1459": _fold_rfc1459, "ascii": _fold_ascii}


def get_casefold(mapping: str) -> Callable[[str], str]:
    """The folding function for a CASEMAPPING name; ValueError if unknown."""
    try:
        return _FOLDERS[mapping]
    except KeyError:
        raise ValueError(
            f"unknown casemapping {mapping!r} (choose one of: {', '.join(CASEMAPPINGS)})"
        ) from None
